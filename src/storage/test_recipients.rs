//! Staff members' own subscriptions, linked for test sends. A link is
//! confirmed with a code sent to the subscription; only the code's keyed
//! hash is stored.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{
    schema::staff_test_recipients as t, time, with_conn, with_write_tx, Database, StorageError,
};
use crate::domain::Id;

/// The keyed-hash domain of confirmation codes.
const HASH_DOMAIN: &str = "test-recipient-code";

/// A linked subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRecipient {
    pub subscriber_id: Id,
    pub confirmed_at: Option<DateTime<Utc>>,
}

impl Database {
    fn code_hash(&self, staff_user_id: Id, subscriber_id: Id, code: &str) -> Vec<u8> {
        self.keyring().lookup_hash(
            HASH_DOMAIN,
            &format!("{staff_user_id}:{subscriber_id}:{code}"),
        )
    }

    /// Links (again) `subscriber_id` to the staff member, waiting for `code`.
    pub fn link_test_recipient(
        &self,
        staff_user_id: Id,
        subscriber_id: Id,
        code: &str,
    ) -> Result<(), StorageError> {
        let hash = self.code_hash(staff_user_id, subscriber_id, code);
        let now = time::to_db(time::now());
        with_write_tx!(self, |c| {
            diesel::delete(
                t::table
                    .filter(t::staff_user_id.eq(staff_user_id))
                    .filter(t::subscriber_id.eq(subscriber_id)),
            )
            .execute(c)?;
            diesel::insert_into(t::table)
                .values((
                    t::staff_user_id.eq(staff_user_id),
                    t::subscriber_id.eq(subscriber_id),
                    t::code_hash.eq(Some(&hash)),
                    t::created_at.eq(now),
                ))
                .execute(c)?;
            Ok(())
        })
    }

    /// Confirms the link with `code` if it was created after `since`;
    /// whether it matched.
    pub fn confirm_test_recipient(
        &self,
        staff_user_id: Id,
        subscriber_id: Id,
        code: &str,
        since: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let hash = self.code_hash(staff_user_id, subscriber_id, code);
        let now = time::to_db(time::now());
        let n = with_conn!(self, |c| diesel::update(
            t::table
                .filter(t::staff_user_id.eq(staff_user_id))
                .filter(t::subscriber_id.eq(subscriber_id))
                .filter(t::code_hash.eq(&hash))
                .filter(t::created_at.gt(time::to_db(since)))
        )
        .set((
            t::code_hash.eq(None::<Vec<u8>>),
            t::confirmed_at.eq(Some(now))
        ))
        .execute(c)?);
        Ok(n == 1)
    }

    /// The staff member's linked subscriptions.
    pub fn test_recipients(&self, staff_user_id: Id) -> Result<Vec<TestRecipient>, StorageError> {
        let rows: Vec<(i64, Option<chrono::NaiveDateTime>)> = with_conn!(self, |c| t::table
            .filter(t::staff_user_id.eq(staff_user_id))
            .order(t::id.asc())
            .select((t::subscriber_id, t::confirmed_at))
            .load(c)?);
        Ok(rows
            .into_iter()
            .map(|(subscriber_id, at)| TestRecipient {
                subscriber_id,
                confirmed_at: time::from_db_opt(at),
            })
            .collect())
    }

    /// Removes a link.
    pub fn unlink_test_recipient(
        &self,
        staff_user_id: Id,
        subscriber_id: Id,
    ) -> Result<(), StorageError> {
        with_conn!(self, |c| diesel::delete(
            t::table
                .filter(t::staff_user_id.eq(staff_user_id))
                .filter(t::subscriber_id.eq(subscriber_id))
        )
        .execute(c)?);
        Ok(())
    }
}
