//! Daily digests: bundling a category's announcements into one message.

use chrono::{DateTime, Utc};

use super::{Herold, ServiceError};
use crate::{
    domain::{
        parse_local_time, parse_timezone, Announcement, Digest, Limits, NewAnnouncement,
        NewAuditEvent,
    },
    render,
};

impl Herold {
    /// Makes a category a daily digest at `at` (HH:MM) local time.
    pub fn add_digest(
        &self,
        slug: &str,
        at: &str,
        timezone: Option<&str>,
        title: &str,
        actor: &str,
    ) -> Result<Digest, ServiceError> {
        let at = parse_local_time(at)?;
        let tz = parse_timezone(timezone.unwrap_or(&self.config.timezone))?;
        let category = self.category(slug)?;
        let audit = |d: &Digest| digest_audit(actor, "digest.add", slug, d);
        Ok(self.db.add_digest(category.id, at, tz, title, &audit)?)
    }

    /// Ends a category's digest.
    pub fn remove_digest(&self, slug: &str, actor: &str) -> Result<(), ServiceError> {
        let category = self.category(slug)?;
        let audit = |d: &Digest| digest_audit(actor, "digest.remove", slug, d);
        self.db.remove_digest(category.id, &audit)?;
        Ok(())
    }

    /// Fires every due digest once (however many slots were missed);
    /// returns the digest announcements created.
    pub fn fire_due_digests(&self, now: DateTime<Utc>) -> Result<Vec<Announcement>, ServiceError> {
        let mut created = Vec::new();
        let compose = |d: &Digest, items: &[Announcement]| self.compose_digest(d, items, now);
        while let Some((digest, announcement)) =
            self.db
                .fire_due_digest(now, &self.channel_plans(), &compose)?
        {
            tracing::info!(
                digest = digest.id,
                items = announcement.is_some(),
                "digest fired"
            );
            if let Some(a) = &announcement {
                let (_, category) = self.db.get_announcement(a.id)?;
                self.due_on_manual_channels(a, category.slug.as_str())?;
            }
            created.extend(announcement);
        }
        Ok(created)
    }

    fn compose_digest(
        &self,
        d: &Digest,
        items: &[Announcement],
        now: DateTime<Utc>,
    ) -> Option<NewAnnouncement> {
        if items.is_empty() {
            return None;
        }
        let limits = &self.config.limits;
        let date = now.with_timezone(&d.timezone).format("%d.%m.%Y");
        let title: String = format!("{} – {date}", d.title)
            .chars()
            .take(limits.title_max_chars)
            .collect();
        let mut body = String::new();
        for (i, a) in items.iter().enumerate() {
            let line = format!(
                "- **{}**: {} ([mehr]({}))\n",
                a.title,
                render::summary(&a.body, 160),
                self.announcement_url(a.id)
            );
            if body.chars().count() + line.chars().count()
                > limits.body_max_chars.saturating_sub(120)
            {
                body.push_str(&format!(
                    "\n… {} weitere: {}\n",
                    items.len() - i,
                    self.config.public_url
                ));
                break;
            }
            body.push_str(&line);
        }
        NewAnnouncement::new(
            d.category_id,
            &title,
            &body,
            false,
            None,
            None,
            "digest",
            &Limits {
                title_max_chars: usize::MAX,
                body_max_chars: usize::MAX,
            },
            now,
        )
        .ok()
    }
}

/// The audit event of adding or removing a category's digest.
fn digest_audit(actor: &str, action: &str, slug: &str, d: &Digest) -> NewAuditEvent {
    NewAuditEvent::new(
        actor,
        action,
        format!("category:{slug}"),
        &serde_json::json!({
            "at": d.local_time.format("%H:%M").to_string(),
            "timezone": d.timezone.name(),
            "title": d.title,
        }),
    )
}
