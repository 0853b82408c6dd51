//! The record of processing activities (Art. 30 GDPR) generated from the
//! configuration: what this installation actually processes, with the
//! periods and measures it is configured with. The texts are in the
//! message catalogues (`processing.*`).

use chrono::Utc;
use herold_channel_api::ChannelKind;

use super::Herold;
use crate::{
    domain::{ProcessingActivity, ProcessingRecord, Recipient},
    i18n,
    storage::{DatabaseUrl, KeySource},
};

/// Builds texts in one locale.
struct Texts<'a>(&'a str);

impl Texts<'_> {
    fn t(&self, key: &str) -> String {
        i18n::t(self.0, &format!("processing.{key}"), &[])
    }

    fn with(&self, key: &str, args: &[(&str, &str)]) -> String {
        i18n::t(self.0, &format!("processing.{key}"), args)
    }

    fn days(&self, key: &str, days: u32) -> String {
        self.with(key, &[("days", &days.to_string())])
    }

    fn recipient(&self, name: String, role: &str) -> Recipient {
        Recipient {
            name,
            role: self.t(&format!("role.{role}")),
        }
    }
}

impl Herold {
    /// The record of processing activities in `locale` (`de` or `en`).
    pub fn processing_record(&self, locale: &str) -> ProcessingRecord {
        let tx = Texts(locale);
        let c = &self.config;
        let channels = &c.delivery.channels;
        let has = |k: ChannelKind| channels.contains(&k);
        let mut activities = Vec::new();
        for kind in [
            ChannelKind::Email,
            ChannelKind::Telegram,
            ChannelKind::Matrix,
            ChannelKind::WhatsApp,
        ] {
            if has(kind) {
                activities.push(self.channel_activity(&tx, kind));
            }
        }
        let messengers = [
            ChannelKind::Telegram,
            ChannelKind::Matrix,
            ChannelKind::WhatsApp,
        ];
        if messengers.into_iter().any(has) {
            activities.push(self.reports_activity(&tx, &messengers));
        }
        activities.push(self.public_activity(&tx));
        activities.push(self.staff_activity(&tx));
        let (measures, warnings) = self.measures(&tx);
        ProcessingRecord {
            generated_at: Utc::now(),
            locale: locale.to_owned(),
            controller: c.privacy.controller.clone().unwrap_or(c.site_name.clone()),
            dpo_contact: c.privacy.dpo_contact.clone(),
            activities,
            measures,
            warnings,
        }
    }

    /// Recipients every activity has: the host, when it is a processor.
    fn hosting(&self, tx: &Texts<'_>) -> Vec<Recipient> {
        self.config
            .privacy
            .hosting
            .iter()
            .map(|h| tx.recipient(h.clone(), "processor"))
            .collect()
    }

    fn channel_activity(&self, tx: &Texts<'_>, kind: ChannelKind) -> ProcessingActivity {
        let c = &self.config;
        let r = &c.retention;
        let k = kind.as_str();
        let mut recipients = self.hosting(tx);
        let third_countries = match kind {
            ChannelKind::Email => {
                let host = c.email.as_ref().map_or("?", |e| e.host.as_str());
                let smtp = c
                    .privacy
                    .email_provider
                    .clone()
                    .unwrap_or_else(|| tx.with("recipient.smtp_host", &[("host", host)]));
                recipients.push(tx.recipient(smtp, "processor"));
                recipients.push(tx.recipient(tx.t("recipient.mailbox_providers"), "independent"));
                tx.t("third.email")
            }
            ChannelKind::Telegram => {
                recipients.push(tx.recipient(tx.t("recipient.telegram"), "independent"));
                tx.t("third.telegram")
            }
            ChannelKind::Matrix => {
                let host = c
                    .matrix
                    .as_ref()
                    .and_then(|m| url::Url::parse(&m.homeserver).ok())
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_else(|| "?".into());
                recipients.push(tx.recipient(
                    tx.with("recipient.matrix_homeserver", &[("host", &host)]),
                    "processor",
                ));
                recipients.push(tx.recipient(tx.t("recipient.matrix_federation"), "independent"));
                tx.with("third.matrix", &[("host", &host)])
            }
            _ => {
                recipients.push(tx.recipient(tx.t("recipient.meta"), "processor"));
                tx.t("third.whatsapp")
            }
        };
        let mut retention = vec![tx.t("retention.until_left")];
        if kind == ChannelKind::Email {
            retention.push(tx.with(
                "retention.unconfirmed",
                &[
                    ("hours", &c.signup.confirm_ttl_hours.to_string()),
                    ("days", &r.unconfirmed_days.to_string()),
                ],
            ));
        }
        retention.push(if r.left_address_days == 0 {
            tx.t("retention.left_at_once")
        } else {
            tx.days("retention.left_after", r.left_address_days)
        });
        retention.push(tx.days("retention.deliveries", r.delivery_days));
        retention.push(tx.t("retention.ledger"));
        ProcessingActivity {
            id: format!("channel.{k}"),
            name: tx.t(&format!("activity.{k}.name")),
            purpose: tx.t("purpose.announcements"),
            legal_basis: tx.t("basis.consent"),
            data_subjects: tx.t(&format!("activity.{k}.subjects")),
            data_categories: vec![
                tx.t(&format!("data.address.{k}")),
                tx.t("data.topics"),
                tx.t("data.consent"),
                tx.t("data.deliveries"),
            ],
            recipients,
            third_countries,
            retention,
        }
    }

    fn reports_activity(&self, tx: &Texts<'_>, messengers: &[ChannelKind]) -> ProcessingActivity {
        let c = &self.config;
        let mut recipients = self.hosting(tx);
        recipients.push(tx.recipient(tx.t("recipient.staff"), "internal"));
        for kind in messengers {
            if c.delivery.channels.contains(kind) {
                recipients.push(tx.recipient(
                    tx.t(&format!("recipient.transport.{}", kind.as_str())),
                    "transport",
                ));
            }
        }
        ProcessingActivity {
            id: "reports".into(),
            name: tx.t("activity.reports.name"),
            purpose: tx.t("purpose.reports"),
            legal_basis: tx.t("basis.reports"),
            data_subjects: tx.t("activity.reports.subjects"),
            data_categories: vec![
                tx.t("data.messages"),
                tx.t("data.photos"),
                tx.t("data.inbound"),
            ],
            recipients,
            third_countries: tx.t("third.as_channel"),
            retention: vec![
                tx.days(
                    "retention.conversations",
                    c.retention.closed_conversation_days,
                ),
                tx.days("retention.inbound", c.retention.inbound_event_days),
                tx.t("retention.erasure"),
            ],
        }
    }

    fn public_activity(&self, tx: &Texts<'_>) -> ProcessingActivity {
        let mut recipients = self.hosting(tx);
        recipients.push(tx.recipient(tx.t("recipient.public"), "public"));
        ProcessingActivity {
            id: "public".into(),
            name: tx.t("activity.public.name"),
            purpose: tx.t("purpose.public"),
            legal_basis: tx.t("basis.public_task"),
            data_subjects: tx.t("activity.public.subjects"),
            data_categories: vec![tx.t("data.websub")],
            recipients,
            third_countries: tx.t("third.none"),
            retention: vec![tx.t("retention.websub")],
        }
    }

    fn staff_activity(&self, tx: &Texts<'_>) -> ProcessingActivity {
        let mut recipients = self.hosting(tx);
        recipients.push(tx.recipient(tx.t("recipient.dpo"), "internal"));
        ProcessingActivity {
            id: "staff".into(),
            name: tx.t("activity.staff.name"),
            purpose: tx.t("purpose.staff"),
            legal_basis: tx.t("basis.staff"),
            data_subjects: tx.t("activity.staff.subjects"),
            data_categories: vec![tx.t("data.staff"), tx.t("data.audit")],
            recipients,
            third_countries: tx.t("third.none"),
            retention: vec![tx.days("retention.audit", self.config.retention.audit_days)],
        }
    }

    /// The measures in force, and warnings about settings that weaken them.
    fn measures(&self, tx: &Texts<'_>) -> (Vec<String>, Vec<String>) {
        let c = &self.config;
        let mut m = Vec::new();
        let mut w = Vec::new();
        match c.key_source() {
            KeySource::Inline(_) => {
                m.push(tx.t("measure.encryption_inline"));
                w.push(tx.t("warning.inline_key"));
            }
            KeySource::File { path, .. } => m.push(tx.with(
                "measure.encryption_file",
                &[("path", &path.display().to_string())],
            )),
        }
        m.push(tx.t("measure.keyed_hash"));
        m.push(tx.t("measure.fingerprint"));
        match DatabaseUrl::parse(&c.database_url) {
            Ok(DatabaseUrl::Postgres(_)) => m.push(tx.t("measure.postgres")),
            _ => m.push(tx.t("measure.secure_delete")),
        }
        m.push(tx.t("measure.ledger"));
        m.push(tx.with(
            "measure.erasure",
            &[(
                "form",
                &tx.t(&format!("erasure.{}", c.privacy.erasure_record.as_str())),
            )],
        ));
        m.push(tx.t("measure.retention"));
        if c.public_url.scheme() == "https" {
            m.push(tx.t("measure.https"));
        } else {
            w.push(tx.with("warning.http", &[("url", c.public_url.as_str())]));
        }
        let has = |k: ChannelKind| c.delivery.channels.contains(&k);
        if has(ChannelKind::Email) {
            m.push(tx.with(
                "measure.double_opt_in",
                &[("hours", &c.signup.confirm_ttl_hours.to_string())],
            ));
        }
        if has(ChannelKind::Telegram) {
            if c.telegram
                .as_ref()
                .is_some_and(|t| t.webhook_secret.is_some())
            {
                m.push(tx.t("measure.telegram_secret"));
            } else {
                m.push(tx.t("measure.telegram_polling"));
            }
        }
        if has(ChannelKind::WhatsApp) {
            m.push(tx.t("measure.whatsapp_signature"));
        }
        if has(ChannelKind::Matrix) {
            m.push(tx.t("measure.matrix_e2ee"));
        }
        m.push(tx.t("measure.photo_metadata"));
        m.push(tx.t("measure.logs"));
        m.push(tx.t("measure.audit"));
        if c.privacy.dpo_contact.is_none() {
            w.push(tx.t("warning.no_dpo"));
        }
        (m, w)
    }
}
