//! Stop is final: a resident is told that a Stop, unsubscribe or erasure
//! worked only once nothing sent to them is still in flight.
//!
//! Together with the engine's look at the subscribers' status right before
//! each batch's sends (`Database::inactive_among`) this means: a send that
//! starts after the status change skips the resident, and one that started
//! before it finishes before the resident is told.

use chrono::Utc;
use std::time::{Duration, Instant};

use super::Herold;
use crate::{domain::Id, storage::StorageError};

/// How often [`Herold::wait_until_settled`] looks again.
const POLL: Duration = Duration::from_millis(25);

impl Herold {
    /// Blocks until no delivery to `subscriber_id` is in flight (see
    /// [`crate::storage::Database::delivery_in_flight`]), looking every
    /// 25 ms, at most `timeout`. Returns whether it settled. Call it after
    /// the status change is committed, before answering; on a blocking
    /// thread.
    pub fn wait_until_settled(
        &self,
        subscriber_id: Id,
        timeout: Duration,
    ) -> Result<bool, StorageError> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.db.delivery_in_flight(subscriber_id, Utc::now())? {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            std::thread::sleep(POLL.min(deadline - now));
        }
    }

    /// How long the answer to a Stop waits at most: the lease time
    /// (`delivery.lease_seconds`), after which a batch counts as abandoned.
    pub fn settle_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.config.delivery.lease_seconds))
    }

    /// [`Herold::wait_until_settled`] with [`Herold::settle_timeout`], for
    /// the answers to Stop, unsubscribe and erasure. A batch still out when
    /// the time is up (a stuck worker) is logged, and the answer goes out.
    pub fn settle_after_stop(&self, subscriber_id: Id) -> Result<(), StorageError> {
        if !self.wait_until_settled(subscriber_id, self.settle_timeout())? {
            tracing::warn!(
                subscriber = subscriber_id,
                "a delivery was still in flight when the Stop was confirmed"
            );
        }
        Ok(())
    }
}
