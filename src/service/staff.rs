//! Staff accounts and signing in: argon2id password hashes, sessions that
//! are new at every sign-in, and throttling of guesses that cannot be used
//! to lock the town hall out.
//!
//! Throttling, within a window of [`WINDOW_MINUTES`]: a client (IP address)
//! with [`PER_CLIENT`] failures is refused; an account with
//! [`PER_ACCOUNT`] failures is refused to browsers it was never used from,
//! while a browser it signed in from before (a trusted device, by its
//! device cookie) has its own allowance of [`PER_DEVICE`]; and one client
//! guessing one account gets [`PER_PAIR`]. So an attacker can exhaust the
//! account's allowance for strangers but not the staff's own browsers.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use thiserror::Error;

use super::{Herold, ServiceError};
use crate::{
    domain::{NewAuditEvent, NewStaffUser, Role, StaffUser},
    storage::{StaffSession, StorageError},
};

/// The window failed sign-ins are counted in.
pub const WINDOW_MINUTES: i64 = 15;
/// Failures one client may make, over all accounts.
pub const PER_CLIENT: u32 = 20;
/// Failures an account may have from browsers it was never used from.
pub const PER_ACCOUNT: u32 = 10;
/// Failures one client may make on one account.
pub const PER_PAIR: u32 = 5;
/// Failures a trusted browser may make on its account.
pub const PER_DEVICE: u32 = 5;
/// A session ends after this long without use…
pub const IDLE_HOURS: i64 = 8;
/// …and after this long in any case.
pub const MAX_HOURS: i64 = 12;
/// The shortest password taken.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Why an account could not be created.
#[derive(Debug, Error)]
pub enum StaffError {
    #[error("user name {0:?} is invalid: expected 2 to 40 of a-z, 0-9, '.', '-' and '_'")]
    BadUsername(String),
    #[error("password is too short: expected at least {MIN_PASSWORD_CHARS} characters")]
    ShortPassword,
    #[error("display name is invalid: expected one line of at most 100 characters")]
    BadDisplayName,
    #[error("password could not be hashed: {0}")]
    Hash(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why a sign-in was refused.
#[derive(Debug, Error)]
pub enum SignInError {
    /// Wrong name or password (which one is not said).
    #[error("user name or password is wrong")]
    Wrong,
    /// Too many failures: try again after the window.
    #[error("too many failed sign-ins: try again in {WINDOW_MINUTES} minutes")]
    Throttled,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A successful sign-in.
#[derive(Debug)]
pub struct SignedIn {
    pub user: StaffUser,
    /// The new session's token (for the session cookie).
    pub session_token: String,
    /// A device token for a browser that had none (for the device cookie).
    pub new_device_token: Option<String>,
}

/// Who is signing in from where.
#[derive(Debug, Clone, Copy)]
pub struct SignInAttempt<'a> {
    pub username: &'a str,
    pub password: &'a str,
    /// The client's address, if known.
    pub client: Option<&'a str>,
    /// The browser's device cookie, if it sent one.
    pub device: Option<&'a str>,
    /// The session cookie it still had (ended by the sign-in).
    pub previous_session: Option<&'a str>,
}

fn valid_username(name: &str) -> bool {
    (2..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// An argon2id hash of nothing anyone types: verified against when the
/// user does not exist, so the answer takes as long either way.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"no user has this password", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

impl Herold {
    /// Creates a staff account (recorded in the audit log as done by
    /// `actor`).
    pub fn add_staff_user(
        &self,
        username: &str,
        display_name: &str,
        role: Role,
        password: &str,
        actor: &str,
    ) -> Result<StaffUser, StaffError> {
        if !valid_username(username) {
            return Err(StaffError::BadUsername(username.chars().take(40).collect()));
        }
        if display_name.trim().is_empty()
            || display_name.chars().count() > 100
            || display_name.contains(['\n', '\r'])
        {
            return Err(StaffError::BadDisplayName);
        }
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(StaffError::ShortPassword);
        }
        let salt = SaltString::generate(&mut OsRng);
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| StaffError::Hash(e.to_string()))?
            .to_string();
        let user = self.db.create_staff_user(&NewStaffUser {
            username: username.to_owned(),
            display_name: display_name.trim().to_owned(),
            role,
            password_hash: hash,
        })?;
        self.db.record_audit(&NewAuditEvent::new(
            actor,
            "user.add",
            format!("user:{username}"),
            &json!({ "role": role.as_str() }),
        ))?;
        Ok(user)
    }

    fn scope(&self, kind: &str, value: &str) -> String {
        // Client addresses and device tokens are kept as keyed hashes.
        let h = self.db.keyring().lookup_hash("login-scope", value);
        format!("{kind}:{}", hex::encode(&h[..12]))
    }

    /// Signs a staff member in, or says why not (see the module's notes on
    /// throttling). Every failure is counted.
    pub fn sign_in(
        &self,
        a: &SignInAttempt<'_>,
        now: DateTime<Utc>,
    ) -> Result<SignedIn, SignInError> {
        let since = now - Duration::minutes(WINDOW_MINUTES);
        let db = &self.db;
        let user = db.find_staff_user(a.username)?.filter(|u| !u.disabled);
        let trusted = match (&user, a.device) {
            (Some(u), Some(d)) => db.is_trusted_device(u.id, d)?,
            _ => false,
        };
        let client = a.client.map(|c| self.scope("client", c));
        let pair = a
            .client
            .map(|c| self.scope("pair", &format!("{}\0{c}", a.username)));
        let account = self.scope("account", a.username);
        let device = a
            .device
            .filter(|_| trusted)
            .map(|d| self.scope("device", d));
        let over = |scope: &Option<String>, limit: u32| -> Result<bool, StorageError> {
            Ok(match scope {
                Some(s) => db.login_failures_since(s, since)? >= limit,
                None => false,
            })
        };
        let throttled = over(&client, PER_CLIENT)?
            || if trusted {
                over(&device, PER_DEVICE)?
            } else {
                over(&Some(account.clone()), PER_ACCOUNT)? || over(&pair, PER_PAIR)?
            };
        if throttled {
            return Err(SignInError::Throttled);
        }
        let hash = user
            .as_ref()
            .map_or(dummy_hash(), |u| u.password_hash.as_str());
        let ok = PasswordHash::new(hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(a.password.as_bytes(), &parsed)
                .is_ok()
        });
        let Some(user) = user.filter(|_| ok) else {
            let scopes: Vec<String> = [client, pair, Some(account), device]
                .into_iter()
                .flatten()
                .collect();
            db.record_login_failure(&scopes, now)?;
            return Err(SignInError::Wrong);
        };
        for s in [pair, device].into_iter().flatten() {
            db.clear_login_failures(&s, since)?;
        }
        let session_token = db.start_staff_session(user.id, a.previous_session, now)?;
        let new_device_token = if trusted {
            None
        } else {
            Some(db.trust_staff_device(user.id, now)?)
        };
        db.record_audit(&NewAuditEvent::new(
            &user.username,
            "user.sign_in",
            format!("user:{}", user.username),
            &json!({}),
        ))?;
        Ok(SignedIn {
            user,
            session_token,
            new_device_token,
        })
    }

    /// The session of `token`, if it is valid at `now`.
    pub fn staff_session(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StaffSession>, StorageError> {
        self.db.staff_session(
            token,
            now,
            now - Duration::hours(MAX_HOURS),
            now - Duration::hours(IDLE_HOURS),
        )
    }

    /// Ends the session of `token`.
    /// Disables `username` (their sessions end at once), audited as done by
    /// `actor`; nobody disables themselves.
    pub fn disable_staff_user(&self, username: &str, actor: &str) -> Result<(), ServiceError> {
        if username == actor {
            return Err(ServiceError::Refused(
                "you cannot disable your own account".into(),
            ));
        }
        let u = self.db.find_staff_user(username)?.ok_or_else(|| {
            ServiceError::Refused(format!("no staff user is called {username:?}"))
        })?;
        self.db.set_staff_disabled(u.id, true)?;
        self.db.record_audit(&crate::domain::NewAuditEvent::new(
            actor,
            "user.disable",
            format!("user:{username}"),
            &serde_json::json!({}),
        ))?;
        Ok(())
    }

    pub fn sign_out(&self, token: &str) -> Result<(), StorageError> {
        self.db.end_staff_session(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["anna", "a.b-c_d", "dpo2"] {
            assert!(valid_username(ok), "{ok}");
        }
        for bad in ["A", "x", "anna müller", "a/b", &"a".repeat(41)] {
            assert!(!valid_username(bad), "{bad}");
        }
    }
}
