//! Erasure (Art. 17 GDPR): by the resident (Löschen, the manage page) or
//! by staff on a request made another way (letter, phone, counter).

use serde_json::json;

use super::{Herold, ServiceError, CONSENT_WORDING_VERSION};
use crate::{
    domain::{Id, NewAuditEvent},
    storage::StorageError,
};

impl Herold {
    /// Erases subscriber `id`; the consent ledger keeps the form
    /// `privacy.erasure_record` configures.
    pub fn erase(&self, id: Id) -> Result<(), StorageError> {
        self.db.erase_subscriber(
            id,
            CONSENT_WORDING_VERSION,
            self.config.privacy.erasure_record,
            None,
        )
    }

    /// Erases subscriber `id` on a request staff received, recorded in the
    /// audit log with `actor`, the pseudonym and `reason` in the same
    /// transaction; returns once no delivery to them is in flight.
    pub fn erase_by_staff(&self, id: Id, actor: &str, reason: &str) -> Result<(), ServiceError> {
        let s = self.db.get_subscriber(id)?;
        let subject = format!("subscriber:{}", s.pseudonym);
        let channel = s.channel.as_str();
        let audit = |_: &Id| {
            NewAuditEvent::new(
                actor,
                "subscriber.erase",
                subject.clone(),
                &json!({ "channel": channel, "reason": reason }),
            )
        };
        self.db.erase_subscriber(
            id,
            CONSENT_WORDING_VERSION,
            self.config.privacy.erasure_record,
            Some(&audit),
        )?;
        tracing::info!(subscriber = id, "erased by staff");
        self.settle_after_stop(id)?;
        Ok(())
    }
}
