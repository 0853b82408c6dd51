//! The bot's one device: logging in once, keeping the session beside the
//! SQLite store, and restoring it on every start.
//!
//! `store_path/` holds
//! * `herold.lock` — locked by the one process that uses the device;
//! * `session.json` — user id, device id and access token (mode 0600),
//!   written right after the one password login, before anything else, so
//!   a crash cannot make the next start log in again (a new device);
//! * `matrix-sdk-state.sqlite3`, `matrix-sdk-crypto.sqlite3`,
//!   `matrix-sdk-event-cache.sqlite3` — matrix-sdk's state (rooms, members,
//!   the sync token) and crypto store (the device's identity keys, Olm and
//!   Megolm sessions). Without them the device cannot decrypt what was sent
//!   to it, so the directory is created 0700 and must be backed up.

use std::io::Write;
use std::path::{Path, PathBuf};

use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::{Client, SessionMeta, SessionTokens};
use zeroize::Zeroizing;

use crate::config::Credentials;
use crate::error::ConnectError;

/// The session file's name inside `store_path`.
pub const SESSION_FILE: &str = "session.json";
/// The lock file inside `store_path` that only one process holds.
pub(crate) const LOCK_FILE: &str = "herold.lock";
/// The device name residents see in their client's device list.
const DEVICE_NAME: &str = "Herold";

/// Creates `store_path` (0700) if missing.
pub(crate) fn prepare_store(store_path: &Path) -> Result<(), ConnectError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(store_path)
        .map_err(|e| ConnectError::Store(format!("cannot create matrix.store_path: {e}")))
}

/// Logs `client` in as the bot's one device: restores `session.json` if
/// there is one, else logs in with the password (saving the session at
/// once) or takes the access token's device.
pub(crate) async fn log_in(
    client: &Client,
    user_id: &str,
    credentials: &Credentials,
    store_path: &Path,
) -> Result<(), ConnectError> {
    let path = store_path.join(SESSION_FILE);
    let stored = read_session(&path)?;
    if let Some(session) = &stored {
        if session.meta.user_id.as_str() != user_id {
            return Err(ConnectError::Config(
                "matrix.store_path holds the session of another account than matrix.user_id: \
                 use a fresh store_path for a new bot account"
                    .into(),
            ));
        }
    }
    match (credentials, stored) {
        (Credentials::Password(_), Some(session)) => restore(client, session).await,
        (Credentials::Password(password), None) => {
            let response = client
                .matrix_auth()
                .login_username(user_id, password)
                .initial_device_display_name(DEVICE_NAME)
                .send()
                .await
                .map_err(|e| ConnectError::from_sdk(&e))?;
            write_session(&path, &MatrixSession::from(&response))
        }
        (Credentials::AccessToken(token), Some(session))
            if session.tokens.access_token == token.as_str() =>
        {
            restore(client, session).await
        }
        (Credentials::AccessToken(token), stored) => {
            let device_id = token_device(client, user_id, token).await?;
            if let Some(old) = &stored {
                if old.meta.device_id != device_id {
                    return Err(ConnectError::Config(
                        "matrix.access_token belongs to another device than the one whose keys \
                         are in matrix.store_path: use a token of that device, or a fresh store_path"
                            .into(),
                    ));
                }
            }
            let session = MatrixSession {
                meta: SessionMeta {
                    user_id: parse_user(user_id)?,
                    device_id,
                },
                tokens: SessionTokens {
                    access_token: token.as_str().to_owned(),
                    refresh_token: None,
                },
            };
            write_session(&path, &session)?;
            restore(client, session).await
        }
    }
}

async fn restore(client: &Client, session: MatrixSession) -> Result<(), ConnectError> {
    client
        .restore_session(session)
        .await
        .map_err(|e| ConnectError::from_sdk(&e))
}

/// The device an access token belongs to (`/whoami`), asked with a
/// throw-away client so the real one opens its crypto store only for the
/// right device.
async fn token_device(
    client: &Client,
    user_id: &str,
    token: &Zeroizing<String>,
) -> Result<matrix_sdk::ruma::OwnedDeviceId, ConnectError> {
    let probe = Client::builder()
        .homeserver_url(client.homeserver())
        .build()
        .await
        .map_err(|e| ConnectError::Config(format!("matrix.homeserver: {e}")))?;
    probe
        .restore_session(MatrixSession {
            meta: SessionMeta {
                user_id: parse_user(user_id)?,
                device_id: "HEROLDPROBE".into(),
            },
            tokens: SessionTokens {
                access_token: token.as_str().to_owned(),
                refresh_token: None,
            },
        })
        .await
        .map_err(|e| ConnectError::from_sdk(&e))?;
    let whoami = probe
        .whoami()
        .await
        .map_err(|e| ConnectError::from_sdk(&matrix_sdk::Error::Http(Box::new(e))))?;
    if whoami.user_id.as_str() != user_id {
        return Err(ConnectError::Config(
            "matrix.access_token belongs to another account than matrix.user_id".into(),
        ));
    }
    whoami
        .device_id
        .ok_or_else(|| ConnectError::Config("matrix.access_token is not bound to a device".into()))
}

fn parse_user(user_id: &str) -> Result<matrix_sdk::ruma::OwnedUserId, ConnectError> {
    user_id
        .try_into()
        .map_err(|_| ConnectError::Config("matrix.user_id: not a Matrix user id".into()))
}

fn read_session(path: &PathBuf) -> Result<Option<MatrixSession>, ConnectError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            serde_json::from_slice(&bytes).map(Some).map_err(|_| {
                ConnectError::Store(format!(
                    "{SESSION_FILE} in matrix.store_path is damaged: restore it from the backup"
                ))
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConnectError::Store(format!(
            "cannot read {SESSION_FILE} in matrix.store_path: {e}"
        ))),
    }
}

/// Writes the session atomically (a temporary file renamed over it), 0600.
fn write_session(path: &Path, session: &MatrixSession) -> Result<(), ConnectError> {
    let json = Zeroizing::new(
        serde_json::to_vec(session)
            .map_err(|e| ConnectError::Store(format!("cannot encode the session: {e}")))?,
    );
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let write = || -> std::io::Result<()> {
        let mut file = options.open(&tmp)?;
        file.write_all(&json)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        ConnectError::Store(format!(
            "cannot write {SESSION_FILE} in matrix.store_path: {e}"
        ))
    })
}
