//! Limits on stored WebSub subscriptions: per callback host and in total.
//! A renewal of an existing (topic, callback) is never limited.

use diesel::{dsl::count_star, prelude::*};

use super::{
    super::{with_conn, with_write_tx, Database, StorageError},
    ws, NewWebsubSubscription, Row, WebsubSubscription,
};

/// The limits (`websub.max_subscriptions_per_host`, `websub.max_subscriptions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebsubCaps {
    /// Subscriptions whose callbacks share one host.
    pub per_host: u32,
    /// Subscriptions in all.
    pub total: u32,
}

/// Which limit a new subscription would exceed. `Display` is a message for
/// the subscriber's developer (the body of the hub's 4xx answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebsubCapReached {
    /// Too many subscriptions for the callback's host.
    #[error(
        "too many subscriptions for this callback host: the hub accepts at most {max} \
         per host (websub.max_subscriptions_per_host)"
    )]
    PerHost {
        /// The limit.
        max: u32,
    },
    /// Too many subscriptions in all.
    #[error("the hub has reached its limit of {max} subscriptions (websub.max_subscriptions)")]
    Total {
        /// The limit.
        max: u32,
    },
}

diesel::define_sql_function! {
    /// SQL `lower()`, the same on SQLite and PostgreSQL (for ASCII).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// The host of a callback URL (lower case, without port), if it has one.
pub(crate) fn callback_host(callback: &str) -> Option<String> {
    url::Url::parse(callback)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
}

/// Which cap `$new` would exceed on connection `$c`, if any: `None` for a
/// renewal. A macro so that it runs inside either backend's transaction.
macro_rules! cap_reached {
    ($c:expr, $new:expr, $caps:expr) => {{
        let new: &NewWebsubSubscription<'_> = $new;
        let caps: &WebsubCaps = $caps;
        let exists = ws::table
            .filter(ws::topic.eq(new.topic))
            .filter(ws::callback.eq(new.callback))
            .select(ws::id)
            .first::<i64>($c)
            .optional()?
            .is_some();
        let mut reached = None;
        if !exists {
            let total: i64 = ws::table.select(count_star()).first($c)?;
            if total >= i64::from(caps.total) {
                reached = Some(WebsubCapReached::Total { max: caps.total });
            } else {
                let host = callback_host(new.callback).unwrap_or_default();
                // LIKE narrows the candidates (a superset: `_` matches any
                // character); the parsed host decides.
                let candidates: Vec<String> = ws::table
                    .filter(lower(ws::callback).like(format!("%{host}%")))
                    .select(ws::callback)
                    .load($c)?;
                let same_host = candidates
                    .iter()
                    .filter(|cb| callback_host(cb).as_deref() == Some(host.as_str()))
                    .count();
                if same_host >= caps.per_host as usize {
                    reached = Some(WebsubCapReached::PerHost { max: caps.per_host });
                }
            }
        }
        reached
    }};
}

impl Database {
    /// Which cap storing `new` would exceed, if any (`None` for a renewal).
    /// A quick check before verifying intent; the store checks again.
    pub fn websub_cap_reached(
        &self,
        new: &NewWebsubSubscription<'_>,
        caps: &WebsubCaps,
    ) -> Result<Option<WebsubCapReached>, StorageError> {
        with_conn!(self, |c| Ok(cap_reached!(c, new, caps)))
    }

    /// [`Database::upsert_websub_subscription`] unless a new subscription
    /// would exceed `caps` (checked in the same transaction); a renewal is
    /// always stored. On `Err(cap)` nothing changed.
    pub fn upsert_websub_subscription_capped(
        &self,
        new: &NewWebsubSubscription<'_>,
        caps: &WebsubCaps,
    ) -> Result<Result<WebsubSubscription, WebsubCapReached>, StorageError> {
        let row: Result<Row, WebsubCapReached> = with_write_tx!(self, |c| {
            match cap_reached!(c, new, caps) {
                Some(cap) => Ok(Err(cap)),
                None => Ok(Ok(upsert_row!(self, c, new))),
            }
        })?;
        Ok(row.map(Into::into))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_callbacks() {
        assert_eq!(
            callback_host("https://Reader.Example:8443/cb?x=1").as_deref(),
            Some("reader.example")
        );
        assert_eq!(
            callback_host("http://[::1]:80/cb").as_deref(),
            Some("[::1]")
        );
        assert_eq!(callback_host("not a url"), None);
    }

    #[test]
    fn caps_name_their_key() {
        assert!(WebsubCapReached::PerHost { max: 3 }
            .to_string()
            .contains("websub.max_subscriptions_per_host"));
        assert!(WebsubCapReached::Total { max: 3 }
            .to_string()
            .contains("websub.max_subscriptions"));
    }
}
