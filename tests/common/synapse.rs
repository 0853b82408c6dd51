//! A real Matrix homeserver for tests: Synapse from `.test-peers/synapse`
//! (installed by `scripts/test.sh`, pins in
//! `tests/support/requirements-synapse.txt`).
//!
//! [`Synapse::start`] runs a fresh homeserver for one test: its own
//! temporary directory, SQLite, a free port on 127.0.0.1, server name
//! `localhost`, no federation, and the rate limits raised as
//! `../shared/TESTING.md` describes (so tests are not throttled);
//! [`Synapse::start_with_default_limits`] keeps Synapse's own limits, to
//! provoke real `M_LIMIT_EXCEEDED`. Users are registered with the shared
//! secret through the admin API ([`Synapse::register`]). The homeserver is
//! killed when the value is dropped.
//!
//! The Python interpreter is `HEROLD_TEST_SYNAPSE` (set by `scripts/test.sh`)
//! or else `.test-peers/synapse/bin/python` in the nearest directory above
//! the crate that has one. Without it the test fails with a message saying
//! how to install it: the suite never silently skips a peer.
//!
//! Usable from the main crate's tests (`mod common;`) and, by path, from a
//! channel crate's tests. It needs only `std`, `serde_json`, `hmac`, `sha1`,
//! `hex` and `tempfile`, and blocks (briefly) rather than needing a runtime.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};

/// The shared secret of every test homeserver (`registration_shared_secret`).
const SHARED_SECRET: &str = "herold-test-registration-secret";
/// How long Synapse may take to answer `/health` (it usually needs ~3 s).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Which rate limits the homeserver enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limits {
    /// Every `rc_*` limit raised far above what a test sends.
    Raised,
    /// Synapse's defaults (e.g. `rc_message`: 0.2/s, burst 10).
    Default,
}

/// One running Synapse; killed on drop.
pub struct Synapse {
    child: Child,
    port: u16,
    limits: Limits,
    dir: tempfile::TempDir,
}

/// A registered account.
#[derive(Debug, Clone)]
pub struct User {
    /// `@name:localhost`.
    pub user_id: String,
    /// The localpart, for password logins.
    pub localpart: String,
    /// The password it was registered with.
    pub password: String,
    /// The access token of the device registration created.
    pub access_token: String,
    /// That device's id.
    pub device_id: String,
}

impl Synapse {
    /// A fresh homeserver with raised rate limits.
    pub fn start() -> Self {
        Self::start_with(Limits::Raised)
    }

    /// A fresh homeserver with Synapse's default rate limits.
    pub fn start_with_default_limits() -> Self {
        Self::start_with(Limits::Default)
    }

    /// A fresh homeserver with the given limits. Panics (failing the test)
    /// if it does not come up, with the end of its log.
    pub fn start_with(limits: Limits) -> Self {
        let python = python();
        let dir = tempfile::Builder::new()
            .prefix("herold-synapse-")
            .tempdir()
            .expect("temporary directory for Synapse");
        let mut logs = String::new();
        // A port found free can be taken by someone else before Synapse
        // binds it: try a few.
        for _ in 0..3 {
            let port = free_port();
            let _ = std::fs::remove_file(dir.path().join("homeserver.db"));
            match spawn(&python, dir.path(), port, limits) {
                Ok(child) => {
                    return Synapse {
                        child,
                        port,
                        limits,
                        dir,
                    }
                }
                Err(log) => logs.push_str(&log),
            }
        }
        panic!("Synapse did not start:\n{logs}");
    }

    /// The client-server API's base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The homeserver's name (user ids end in `:localhost`).
    pub fn server_name(&self) -> &'static str {
        "localhost"
    }

    /// The directory holding its config, database, media and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the homeserver, as an outage or a crash would; its data stays
    /// for [`Synapse::restart`]. Clients get connection errors meanwhile.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the stopped homeserver again on the same port with the same
    /// data (accounts, rooms, tokens).
    pub fn restart(&mut self) {
        self.stop();
        match spawn(&python(), self.dir.path(), self.port, self.limits) {
            Ok(child) => self.child = child,
            Err(log) => panic!("Synapse did not restart:\n{log}"),
        }
    }

    /// The room's events as the homeserver stores them (the last 500),
    /// oldest first, read with `token`.
    pub fn room_events(&self, token: &str, room_id: &str) -> Vec<serde_json::Value> {
        let (status, body) = self.request(
            "GET",
            &format!(
                "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=500",
                encode(room_id)
            ),
            Some(token),
            None,
        );
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("messages JSON");
        let mut events = v["chunk"].as_array().cloned().unwrap_or_default();
        events.reverse();
        events
    }

    /// `user_id`'s membership in `room_id` (`join`, `invite`, `leave` …),
    /// empty when it has none or `token` may not see it.
    pub fn membership(&self, token: &str, room_id: &str, user_id: &str) -> String {
        let (status, body) = self.request(
            "GET",
            &format!(
                "/_matrix/client/v3/rooms/{}/state/m.room.member/{}",
                encode(room_id),
                encode(user_id)
            ),
            Some(token),
            None,
        );
        if status != 200 {
            return String::new();
        }
        serde_json::from_str::<serde_json::Value>(&body).expect("member JSON")["membership"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// The end of its log, for failure messages.
    pub fn log_tail(&self) -> String {
        log_tail(self.dir.path())
    }

    /// Registers `localpart` with `password` (no admin) with the shared
    /// secret; the answer's token belongs to a new device.
    pub fn register(&self, localpart: &str, password: &str) -> User {
        self.register_as(localpart, password, false)
    }

    /// Registers a server admin (for the admin API, e.g. to deactivate a
    /// user or revoke a device).
    pub fn register_admin(&self, localpart: &str, password: &str) -> User {
        self.register_as(localpart, password, true)
    }

    fn register_as(&self, localpart: &str, password: &str, admin: bool) -> User {
        const PATH: &str = "/_synapse/admin/v1/register";
        let (status, body) = self.request("GET", PATH, None, None);
        assert_eq!(status, 200, "nonce: {body}");
        let nonce = json_str(&body, "nonce");
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(SHARED_SECRET.as_bytes()).expect("hmac");
        mac.update(nonce.as_bytes());
        mac.update(b"\0");
        mac.update(localpart.as_bytes());
        mac.update(b"\0");
        mac.update(password.as_bytes());
        mac.update(b"\0");
        mac.update(if admin {
            b"admin".as_slice()
        } else {
            b"notadmin"
        });
        let request = serde_json::json!({
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": hex::encode(mac.finalize().into_bytes()),
        });
        let (status, body) = self.request("POST", PATH, None, Some(&request));
        assert_eq!(status, 200, "register {localpart}: {body}");
        User {
            user_id: json_str(&body, "user_id"),
            localpart: localpart.to_owned(),
            password: password.to_owned(),
            access_token: json_str(&body, "access_token"),
            device_id: json_str(&body, "device_id"),
        }
    }

    /// A blocking HTTP/1.0 request to the homeserver (no chunked answers):
    /// the status and the body. `token` is sent as a bearer token.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        json: Option<&serde_json::Value>,
    ) -> (u16, String) {
        http(self.port, method, path, token, json)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.log_tail()))
    }

    /// Ends the session of `token` (`POST /logout`): afterwards the
    /// homeserver answers it with `M_UNKNOWN_TOKEN`.
    pub fn logout(&self, token: &str) {
        let (status, body) = self.request(
            "POST",
            "/_matrix/client/v3/logout",
            Some(token),
            Some(&serde_json::json!({})),
        );
        assert_eq!(status, 200, "logout: {body}");
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A room id, alias or user id as one segment of a URL path.
pub fn encode(id: &str) -> String {
    id.replace('!', "%21")
        .replace(':', "%3A")
        .replace('#', "%23")
        .replace('@', "%40")
}

/// Starts Synapse on `port` in `dir` and waits for `/health`; on failure
/// the child is gone and the error is its log.
fn spawn(python: &Path, dir: &Path, port: u16, limits: Limits) -> Result<Child, String> {
    let config = write_config(dir, port, limits);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("synapse.log"))
        .expect("Synapse log file");
    let mut child = Command::new(python)
        .args(["-m", "synapse.app.homeserver", "--config-path"])
        .arg(&config)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("Synapse log file"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start Synapse with {}: {e}", python.display()));
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return Err(log_tail(dir));
        }
        if let Ok((200, _)) = http(port, "GET", "/health", None, None) {
            return Ok(child);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(format!(
        "no answer on /health within {START_TIMEOUT:?}\n{}",
        log_tail(dir)
    ))
}

/// Writes `homeserver.yaml` (and a signing key) for one homeserver: only
/// 127.0.0.1, SQLite, no federation key servers, no presence, shared-secret
/// registration, and the rate limits of `limits`. Written by hand rather
/// than with `--generate-config`, which costs a Python start.
fn write_config(dir: &Path, port: u16, limits: Limits) -> PathBuf {
    let d = dir.display();
    // A fixed signing key: these homeservers federate with nobody.
    std::fs::write(
        dir.join("signing.key"),
        "ed25519 a_herold vQ5dZF9SkJSW7oOGZFj5o4FbpKTGJ2JfFRDBGVxIYA4\n",
    )
    .expect("signing key");
    let mut yaml = format!(
        "server_name: localhost
pid_file: {d}/homeserver.pid
report_stats: false
listeners:
  - {{bind_addresses: [127.0.0.1], port: {port}, type: http, tls: false, x_forwarded: false,
     resources: [{{names: [client], compress: false}}]}}
database: {{name: sqlite3, args: {{database: {d}/homeserver.db}}}}
media_store_path: {d}/media
signing_key_path: {d}/signing.key
registration_shared_secret: {SHARED_SECRET}
macaroon_secret_key: herold-test-macaroon-secret
form_secret: herold-test-form-secret
trusted_key_servers: []
suppress_key_server_warning: true
enable_registration: true
enable_registration_without_verification: true
presence: {{enabled: false}}
"
    );
    if limits == Limits::Raised {
        const MANY: &str = "{per_second: 10000, burst_count: 100000}";
        let _ = write!(
            yaml,
            "rc_message: {MANY}
rc_registration: {MANY}
rc_login: {{address: {MANY}, account: {MANY}, failed_attempts: {MANY}}}
rc_joins: {{local: {MANY}, remote: {MANY}}}
rc_joins_per_room: {MANY}
rc_invites: {{per_room: {MANY}, per_user: {MANY}, per_issuer: {MANY}}}
rc_room_creation: {MANY}
rc_key_requests: {MANY}
rc_3pid_validation: {MANY}
rc_admin_redaction: {MANY}
"
        );
    }
    let path = dir.join("homeserver.yaml");
    std::fs::write(&path, yaml).expect("homeserver.yaml");
    path
}

/// The Synapse virtualenv's Python.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("HEROLD_TEST_SYNAPSE") {
        return PathBuf::from(p);
    }
    let start = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for dir in start.ancestors() {
        let candidate = dir.join(".test-peers/synapse/bin/python");
        if candidate.exists() {
            return candidate;
        }
    }
    panic!(
        "Synapse is not installed: run ./scripts/test.sh once (it installs \
         tests/support/requirements-synapse.txt into .test-peers/synapse), \
         or set HEROLD_TEST_SYNAPSE to a Python that has matrix-synapse"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("synapse.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn json_str(body: &str, key: &str) -> String {
    let value: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
        .to_owned()
}

/// One HTTP/1.0 exchange on a new connection.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    json: Option<&serde_json::Value>,
) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let body = json.map(|j| j.to_string()).unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n");
    if let Some(token) = token {
        let _ = write!(head, "Authorization: Bearer {token}\r\n");
    }
    if json.is_some() {
        let _ = write!(
            head,
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| e.to_string())?;
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {answer:?}"))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}
