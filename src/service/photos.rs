//! Photos residents send (seed 002: "only text and photos are accepted"):
//! the photo half of the media gate. The inbound processor fetches the
//! photo from the provider before it hands the event over; here it is
//! checked (size, a real JPEG, PNG or WebP), stripped of its metadata and
//! stored, encrypted, with the message in the resident's conversation —
//! the caption as its text, the same automatic first answer as for a text.
//! A photo that is too large, no image, or that the provider could not
//! give gets a polite answer instead, and nothing of it is stored.

use herold_channel_api::{ChannelKind, FetchError, FetchedMedia};

use super::{Herold, InboundOutcome, ServiceError};
use crate::{
    domain::{Id, NewAuditEvent, PhotoFile},
    i18n::t,
    media::{prepare_photo, PhotoError},
};

/// What the inbound processor got from the provider for a photo event.
pub type PhotoFetch = Result<FetchedMedia, FetchError>;

/// Why a photo was not taken: which answer the resident gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    TooLarge,
    NotAnImage,
    NotReceived,
}

impl Refusal {
    fn key(self) -> &'static str {
        match self {
            Refusal::TooLarge => "conversation.photo_too_large",
            Refusal::NotAnImage => "conversation.photo_unreadable",
            Refusal::NotReceived => "conversation.photo_failed",
        }
    }
}

impl Herold {
    /// A resident's photo, as fetched by the inbound processor (`None`:
    /// nothing could fetch it, e.g. the channel has no adapter here). A
    /// transient provider failure never reaches this point before the
    /// event's last attempt: the processor retries the event instead.
    pub fn resident_photo(
        &self,
        channel: ChannelKind,
        from: &str,
        caption: Option<&str>,
        fetched: Option<PhotoFetch>,
        message_id: &str,
    ) -> Result<InboundOutcome, ServiceError> {
        let max = self.config().conversations.max_photo_bytes;
        let refusal = match fetched {
            Some(Ok(media)) => match prepare_photo(media.bytes, max) {
                Ok(photo) => {
                    let caption = caption.map(str::trim).filter(|c| !c.is_empty());
                    self.resident_wrote(channel, from, caption, Some(&photo), message_id)?;
                    return Ok(InboundOutcome::Conversation);
                }
                Err(PhotoError::TooLarge { .. }) => Refusal::TooLarge,
                Err(e) => {
                    tracing::info!(channel = %channel, error = %e, "resident photo refused");
                    Refusal::NotAnImage
                }
            },
            Some(Err(FetchError::TooLarge { .. })) => Refusal::TooLarge,
            Some(Err(e)) => {
                tracing::warn!(channel = %channel, error = %e, "resident photo could not be fetched");
                Refusal::NotReceived
            }
            None => {
                tracing::warn!(channel = %channel, "resident photo: no adapter fetches this channel's media");
                Refusal::NotReceived
            }
        };
        self.answer_unstored(channel, from, message_id, |locale| {
            t(locale, refusal.key(), &[("max", &human_size(max))])
        })?;
        Ok(InboundOutcome::Refused)
    }

    /// A photo with its bytes (decrypted, metadata already stripped), for
    /// staff; audited, as it shows what a resident sent.
    pub fn export_photo(&self, id: Id, actor: &str) -> Result<PhotoFile, ServiceError> {
        let file = self.db().photo_file(id)?;
        self.db().record_audit(&NewAuditEvent::new(
            actor,
            "conversation.export_photo",
            format!("photo:{id}"),
            &serde_json::json!({ "message": file.photo.message_id, "bytes": file.bytes.len() }),
        ))?;
        Ok(file)
    }
}

/// A byte count as residents read it: whole megabytes, or kilobytes below one.
fn human_size(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if bytes >= MB {
        format!("{} MB", bytes / MB)
    } else {
        format!("{} KB", bytes / 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(10 * 1024 * 1024), "10 MB");
        assert_eq!(human_size(1024), "1 KB");
        assert_eq!(human_size(1536 * 1024), "1 MB");
    }
}
