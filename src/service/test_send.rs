//! Test sends from the composer to the editor's own subscriptions. An
//! editor links a subscription by its pseudonym (the "Daten" export shows
//! it) and confirms it with a code Herold sends to that subscription, so
//! nobody can make Herold write to a resident's chat. A test send renders
//! the draft exactly as the engine would for each linked subscription's
//! channel, marks it "[Test]", and sends it at once.

use chrono::{Duration, Utc};
use herold_channel_api::{Address, Channel, RenderedMessage, UnsubscribeLinks};
use rand::Rng;
use std::sync::Arc;

use super::{Herold, ServiceError};
use crate::{
    domain::{Draft, Id, NewAuditEvent, StaffUser, Subscriber, SubscriberStatus},
    i18n::t,
    registry::Registry,
    storage::{NewOutboxMessage, OutboxRecipient, Redacted, StorageError},
};

/// How long a link code is valid.
const CODE_MINUTES: i64 = 30;

/// One message of a test send, ready for the adapter.
pub struct TestMessage {
    pub channel: Arc<dyn Channel>,
    pub to: Address,
    pub message: RenderedMessage,
}

impl Herold {
    /// Starts linking the subscription with `pseudonym` to `user`: a code
    /// goes to it through its channel.
    pub fn link_test_recipient(
        &self,
        user: &StaffUser,
        pseudonym: &str,
    ) -> Result<(), ServiceError> {
        let pseudonym = pseudonym.trim().to_uppercase();
        let subscriber = self
            .db
            .find_subscriber_by_pseudonym(&pseudonym)?
            .filter(|s| s.status == SubscriberStatus::Active)
            .ok_or_else(|| {
                ServiceError::Refused(format!(
                    "no active subscription has the pseudonym {pseudonym}"
                ))
            })?;
        let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
        self.db.link_test_recipient(user.id, subscriber.id, &code)?;
        let text = t(
            &subscriber.locale,
            "test.code",
            &[("code", &code), ("name", &user.display_name)],
        );
        self.db.enqueue_outbox(
            &NewOutboxMessage {
                channel: subscriber.channel,
                to: OutboxRecipient::Subscriber(subscriber.id),
                text: Redacted(text),
                locale: subscriber.locale.clone(),
                wait_settled: false,
                erase_after: false,
                source: None,
            },
            Utc::now(),
        )?;
        self.db.record_audit(&NewAuditEvent::new(
            &user.username,
            "test_recipient.link",
            format!("subscriber:{}", subscriber.pseudonym),
            &serde_json::json!({ "channel": subscriber.channel }),
        ))?;
        Ok(())
    }

    /// Confirms the link with the code the subscription received; whether
    /// it matched.
    pub fn confirm_test_recipient(
        &self,
        user: &StaffUser,
        pseudonym: &str,
        code: &str,
    ) -> Result<bool, ServiceError> {
        let pseudonym = pseudonym.trim().to_uppercase();
        let Some(subscriber) = self.db.find_subscriber_by_pseudonym(&pseudonym)? else {
            return Ok(false);
        };
        let since = Utc::now() - Duration::minutes(CODE_MINUTES);
        Ok(self
            .db
            .confirm_test_recipient(user.id, subscriber.id, code.trim(), since)?)
    }

    /// The user's linked subscriptions, with whether each is confirmed.
    pub fn test_recipients(
        &self,
        user: &StaffUser,
    ) -> Result<Vec<(Subscriber, bool)>, ServiceError> {
        let mut out = Vec::new();
        for r in self.db.test_recipients(user.id)? {
            match self.db.get_subscriber(r.subscriber_id) {
                Ok(s) => out.push((s, r.confirmed_at.is_some())),
                Err(StorageError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    /// Removes a linked subscription.
    pub fn unlink_test_recipient(
        &self,
        user: &StaffUser,
        subscriber: Id,
    ) -> Result<(), ServiceError> {
        Ok(self.db.unlink_test_recipient(user.id, subscriber)?)
    }

    /// The messages a test send of `draft` makes: one per confirmed,
    /// active subscription of `user` whose channel is configured, rendered
    /// as that channel renders the announcement, marked "[Test]". The
    /// picture stays out (its draft is not public, so a provider could not
    /// fetch it). Audited.
    pub fn test_messages(
        &self,
        draft: &Draft,
        user: &StaffUser,
        registry: &Registry,
    ) -> Result<Vec<TestMessage>, ServiceError> {
        let targets = self.preview_targets(registry);
        let previews = match self.preview_draft(draft, &targets, "")? {
            Ok((_, p)) => p,
            Err(problems) => return Err(ServiceError::Draft(problems)),
        };
        let mark = t(&self.config.default_locale, "test.mark", &[]);
        let links = self.public_url("subscribe");
        let mut out = Vec::new();
        for (s, confirmed) in self.test_recipients(user)? {
            if !confirmed || s.status != SubscriberStatus::Active {
                continue;
            }
            let (Some(channel), Some(p), Some(address)) = (
                registry.get(s.channel),
                previews.iter().find(|p| p.id == s.channel.as_str()),
                self.db.subscriber_address(s.id)?,
            ) else {
                continue;
            };
            let mut m = p.message.clone();
            m.media.clear();
            let fill = |x: &str| {
                x.replace(UnsubscribeLinks::UNSUBSCRIBE_PLACEHOLDER, &links)
                    .replace(UnsubscribeLinks::MANAGE_PLACEHOLDER, &links)
            };
            m.subject = m.subject.map(|s| format!("{mark} {s}"));
            m.text = format!("{mark} {}", fill(&m.text));
            m.html = m.html.map(|h| fill(&h));
            if let (herold_channel_api::Formatting::MatrixHtml, Some(h)) = (p.formatting, &m.html) {
                m.html = Some(format!("<b>{mark}</b> {h}"));
            }
            out.push(TestMessage {
                channel: channel.clone(),
                to: Address::new(address),
                message: m,
            });
        }
        self.db.record_audit(&NewAuditEvent::new(
            &user.username,
            "draft.test_send",
            format!("draft:{}", draft.id),
            &serde_json::json!({ "messages": out.len() }),
        ))?;
        Ok(out)
    }
}
