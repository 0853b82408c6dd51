//! Staff sessions, trusted devices and sign-in failures. Session and device
//! tokens are random bearer secrets: only their keyed hash is stored.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{
    schema::{login_failures, staff_devices, staff_sessions, staff_users},
    time, with_conn, with_write_tx, Database, StorageError,
};
use crate::domain::{new_token, Id, StaffUser};

/// The keyed-hash domain of staff tokens.
const HASH_DOMAIN: &str = "staff-token";

/// A signed-in staff member's session.
#[derive(Debug, Clone)]
pub struct StaffSession {
    pub id: Id,
    pub user: StaffUser,
    /// The token every form of this session carries.
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

impl Database {
    fn staff_token_hash(&self, token: &str) -> Vec<u8> {
        self.keyring().lookup_hash(HASH_DOMAIN, token)
    }

    /// Starts a session for `user_id`, ending the one whose token was
    /// `previous` (a session token never survives a sign-in); returns the
    /// new token for the cookie.
    pub fn start_staff_session(
        &self,
        user_id: Id,
        previous: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, StorageError> {
        let token = new_token();
        let hash = self.staff_token_hash(&token);
        let old = previous.map(|p| self.staff_token_hash(p));
        let now = time::to_db(now);
        with_write_tx!(self, |c| {
            if let Some(old) = &old {
                diesel::delete(staff_sessions::table.filter(staff_sessions::token_hash.eq(old)))
                    .execute(c)?;
            }
            diesel::insert_into(staff_sessions::table)
                .values((
                    staff_sessions::token_hash.eq(&hash),
                    staff_sessions::staff_user_id.eq(user_id),
                    staff_sessions::csrf_token.eq(new_token()),
                    staff_sessions::created_at.eq(now),
                    staff_sessions::last_seen_at.eq(now),
                ))
                .execute(c)?;
            Ok(())
        })?;
        Ok(token)
    }

    /// The session of `token` if it is still valid at `now`: created after
    /// `created_after` and used after `seen_after`, its user not disabled.
    /// Marks it used (at most once a minute).
    pub fn staff_session(
        &self,
        token: &str,
        now: DateTime<Utc>,
        created_after: DateTime<Utc>,
        seen_after: DateTime<Utc>,
    ) -> Result<Option<StaffSession>, StorageError> {
        let hash = self.staff_token_hash(token);
        type SessionRow = (
            i64,
            String,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
            i64,
        );
        let row: Option<SessionRow> = with_conn!(self, |c| staff_sessions::table
            .filter(staff_sessions::token_hash.eq(&hash))
            .filter(staff_sessions::created_at.gt(time::to_db(created_after)))
            .filter(staff_sessions::last_seen_at.gt(time::to_db(seen_after)))
            .select((
                staff_sessions::id,
                staff_sessions::csrf_token,
                staff_sessions::created_at,
                staff_sessions::last_seen_at,
                staff_sessions::staff_user_id,
            ))
            .first(c)
            .optional()?);
        let Some((id, csrf_token, created, seen, user_id)) = row else {
            return Ok(None);
        };
        let user = self.get_staff_user(user_id)?;
        if user.disabled {
            return Ok(None);
        }
        let (created, seen) = (time::from_db(created), time::from_db(seen));
        if now - seen > chrono::Duration::minutes(1) {
            with_conn!(self, |c| diesel::update(staff_sessions::table.find(id))
                .set(staff_sessions::last_seen_at.eq(time::to_db(now)))
                .execute(c)?);
        }
        Ok(Some(StaffSession {
            id,
            user,
            csrf_token,
            created_at: created,
            last_seen_at: seen,
        }))
    }

    /// Ends the session of `token` (sign-out).
    pub fn end_staff_session(&self, token: &str) -> Result<(), StorageError> {
        let hash = self.staff_token_hash(token);
        with_conn!(self, |c| diesel::delete(
            staff_sessions::table.filter(staff_sessions::token_hash.eq(&hash))
        )
        .execute(c)?);
        Ok(())
    }

    /// A new trusted-device token for `user_id` (its browser signed in).
    pub fn trust_staff_device(
        &self,
        user_id: Id,
        now: DateTime<Utc>,
    ) -> Result<String, StorageError> {
        let token = new_token();
        let hash = self.staff_token_hash(&token);
        with_conn!(self, |c| diesel::insert_into(staff_devices::table)
            .values((
                staff_devices::token_hash.eq(&hash),
                staff_devices::staff_user_id.eq(user_id),
                staff_devices::created_at.eq(time::to_db(now)),
            ))
            .execute(c)?);
        Ok(token)
    }

    /// Whether `token` is a device `user_id` signed in from before.
    pub fn is_trusted_device(&self, user_id: Id, token: &str) -> Result<bool, StorageError> {
        let hash = self.staff_token_hash(token);
        let n: i64 = with_conn!(self, |c| staff_devices::table
            .filter(staff_devices::token_hash.eq(&hash))
            .filter(staff_devices::staff_user_id.eq(user_id))
            .count()
            .get_result(c)?);
        Ok(n > 0)
    }

    /// Records a failed sign-in under each of `scopes`.
    pub fn record_login_failure(
        &self,
        scopes: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let now = time::to_db(now);
        let rows: Vec<_> = scopes
            .iter()
            .map(|s| {
                (
                    login_failures::scope.eq(s),
                    login_failures::occurred_at.eq(now),
                )
            })
            .collect();
        with_conn!(self, |c| diesel::insert_into(login_failures::table)
            .values(&rows)
            .execute(c)?);
        Ok(())
    }

    /// Failed sign-ins under `scope` since `since`.
    pub fn login_failures_since(
        &self,
        scope: &str,
        since: DateTime<Utc>,
    ) -> Result<u32, StorageError> {
        let n: i64 = with_conn!(self, |c| login_failures::table
            .filter(login_failures::scope.eq(scope))
            .filter(login_failures::occurred_at.gt(time::to_db(since)))
            .count()
            .get_result(c)?);
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Forgets the failures under `scope` (a successful sign-in) and every
    /// failure older than `before`.
    pub fn clear_login_failures(
        &self,
        scope: &str,
        before: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        with_conn!(self, |c| diesel::delete(
            login_failures::table.filter(
                login_failures::scope
                    .eq(scope)
                    .or(login_failures::occurred_at.lt(time::to_db(before)))
            )
        )
        .execute(c)?);
        Ok(())
    }

    /// Forgets sign-in failures older than `before` and sessions unused
    /// since then (the retention run, daily).
    pub fn delete_old_sign_in_records(&self, before: DateTime<Utc>) -> Result<usize, StorageError> {
        let before = time::to_db(before);
        with_conn!(self, |c| {
            let n = diesel::delete(
                login_failures::table.filter(login_failures::occurred_at.lt(before)),
            )
            .execute(c)?;
            Ok(n + diesel::delete(
                staff_sessions::table.filter(staff_sessions::last_seen_at.lt(before)),
            )
            .execute(c)?)
        })
    }

    /// Whether any staff account exists (the start page of an empty
    /// installation says how to create the first).
    pub fn has_staff_users(&self) -> Result<bool, StorageError> {
        let n: i64 = with_conn!(self, |c| staff_users::table.count().get_result(c)?);
        Ok(n > 0)
    }
}
