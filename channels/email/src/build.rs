//! Turning a rendered message into a MIME email.
//!
//! Everything here is pure (apart from the random Message-ID and the current
//! date) so it can be tested without a server.

use std::fmt;

use herold_channel_api::{Address, Destination, OutboundMessage, SendError, UnsubscribeLinks};
use lettre::message::dkim::DkimConfig;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;

/// Longest subject in characters; longer ones are cut with `…`.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// Header carrying [`OutboundMessage::idempotency_key`].
///
/// SMTP has no idempotency: a retry after a lost `250` reply delivers the mail
/// twice. The header lets the duplicates be recognised (by residents' filters,
/// support staff or a bounce processor); it does not prevent them.
pub const IDEMPOTENCY_HEADER: &str = "X-Herold-Idempotency-Key";

/// Domain used in Message-IDs when the sender domain is not plain ASCII.
const FALLBACK_ID_DOMAIN: &str = "herold.invalid";

/// Who mails are sent as: From, optional Reply-To and optional DKIM key.
///
/// Created by [`EmailConfig::sender`](crate::EmailConfig::sender).
pub struct Sender {
    from: Mailbox,
    reply_to: Option<Mailbox>,
    dkim: Option<DkimConfig>,
    id_domain: String,
}

impl Sender {
    /// A sender identity; `dkim` signs every message when set.
    pub fn new(from: Mailbox, reply_to: Option<Mailbox>, dkim: Option<DkimConfig>) -> Self {
        let domain = from.email.domain();
        let id_domain = if !domain.is_empty()
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            domain.to_ascii_lowercase()
        } else {
            FALLBACK_ID_DOMAIN.to_owned()
        };
        Self {
            from,
            reply_to,
            dkim,
            id_domain,
        }
    }

    /// The `From` mailbox.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Whether messages are DKIM-signed.
    pub fn signs(&self) -> bool {
        self.dkim.is_some()
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("from", &self.from.to_string())
            .field("reply_to", &self.reply_to.as_ref().map(ToString::to_string))
            .field("dkim", &self.dkim.is_some())
            .finish()
    }
}

/// A mail that is not an announcement: double-opt-in confirmation,
/// unsubscribe confirmation. It carries no `List-Unsubscribe` headers.
///
/// `Debug` hides the address and the content.
#[derive(Clone, PartialEq, Eq)]
pub struct TransactionalMail {
    /// Recipient email address.
    pub to: Address,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// Optional HTML alternative.
    pub html: Option<String>,
    /// BCP 47 language tag, e.g. `de`.
    pub locale: String,
}

impl fmt::Debug for TransactionalMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransactionalMail")
            .field("to", &self.to)
            .field("subject_chars", &self.subject.chars().count())
            .field("text_chars", &self.text.chars().count())
            .field("html_bytes", &self.html.as_ref().map(String::len))
            .field("locale", &self.locale)
            .finish()
    }
}

/// A finished message ready for the transport.
///
/// `Debug` prints only the Message-ID.
#[derive(Clone)]
pub struct BuiltMail {
    /// The message including envelope (and DKIM signature if configured).
    pub message: Message,
    /// The `Message-ID` header value including angle brackets.
    pub message_id: String,
}

impl fmt::Debug for BuiltMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuiltMail")
            .field("message_id", &self.message_id)
            .finish_non_exhaustive()
    }
}

/// Builds the email for one announcement delivery.
///
/// Adds `List-Unsubscribe` (+ `List-Unsubscribe-Post` for HTTPS links, RFC 8058)
/// when [`OutboundMessage::unsubscribe`] is set, priority headers for urgent
/// messages and [`IDEMPOTENCY_HEADER`]. The subject falls back to the first
/// line of the text.
///
/// Errors: a follow destination or an unparsable recipient address is
/// [`SendError::Permanent`] (recipient not gone; the engine decides); an
/// unusable unsubscribe link is [`SendError::Misconfigured`], since every
/// message would carry the same broken base URL.
pub fn build_announcement(sender: &Sender, msg: &OutboundMessage) -> Result<BuiltMail, SendError> {
    let Destination::Recipient(to) = &msg.destination else {
        return Err(SendError::permanent(
            "email cannot deliver to follow targets",
        ));
    };
    let m = &msg.message;
    let subject = m
        .subject
        .as_deref()
        .map(clean_header_text)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| first_line(&m.text));
    // The recipient's own links in the visible footer (see
    // [`UNSUBSCRIBE_PLACEHOLDER`]).
    let text = personalise(&m.text, msg.unsubscribe.as_ref(), false);
    let html = m
        .html
        .as_deref()
        .map(|h| personalise(h, msg.unsubscribe.as_ref(), true));
    build(
        sender,
        Draft {
            to: to.as_str(),
            subject,
            text: &text,
            html: html.as_deref(),
            locale: &m.locale,
            urgent: m.urgent,
            unsubscribe: msg.unsubscribe.as_ref(),
            idempotency_key: Some(&msg.idempotency_key),
        },
    )
}

/// Stands in the text and HTML of an announcement for the recipient's
/// one-click unsubscribe link; replaced per recipient when the message
/// carries [`UnsubscribeLinks`].
pub const UNSUBSCRIBE_PLACEHOLDER: &str = UnsubscribeLinks::UNSUBSCRIBE_PLACEHOLDER;
/// Stands for the recipient's manage link (categories, erasure).
pub const MANAGE_PLACEHOLDER: &str = UnsubscribeLinks::MANAGE_PLACEHOLDER;

/// Fills in the recipient's links; without links the placeholders become
/// the empty string rather than leak as text.
fn personalise(body: &str, links: Option<&UnsubscribeLinks>, html: bool) -> String {
    if !body.contains("{{") {
        return body.to_owned();
    }
    let esc = |u: &str| {
        if html {
            u.replace('&', "&amp;")
                .replace('"', "&quot;")
                .replace('<', "&lt;")
        } else {
            u.to_owned()
        }
    };
    let (one, manage) = links.map_or((String::new(), String::new()), |l| {
        (esc(&l.one_click), esc(&l.manage))
    });
    body.replace(UNSUBSCRIBE_PLACEHOLDER, &one)
        .replace(MANAGE_PLACEHOLDER, &manage)
}

/// Builds a transactional mail (no list headers, no idempotency key).
pub fn build_transactional(
    sender: &Sender,
    mail: &TransactionalMail,
) -> Result<BuiltMail, SendError> {
    let subject = Some(clean_header_text(&mail.subject))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| first_line(&mail.text));
    build(
        sender,
        Draft {
            to: mail.to.as_str(),
            subject,
            text: &mail.text,
            html: mail.html.as_deref(),
            locale: &mail.locale,
            urgent: false,
            unsubscribe: None,
            idempotency_key: None,
        },
    )
}

/// Everything [`build`] needs, already reduced to borrowed parts.
struct Draft<'a> {
    to: &'a str,
    subject: String,
    text: &'a str,
    html: Option<&'a str>,
    locale: &'a str,
    urgent: bool,
    unsubscribe: Option<&'a UnsubscribeLinks>,
    idempotency_key: Option<&'a str>,
}

fn build(sender: &Sender, d: Draft<'_>) -> Result<BuiltMail, SendError> {
    let to = parse_recipient(d.to)?;
    let message_id = format!("<{:032x}@{}>", rand::random::<u128>(), sender.id_domain);

    let mut b = Message::builder()
        .from(sender.from.clone())
        .to(to)
        .subject(truncate_chars(&d.subject, MAX_SUBJECT_CHARS))
        .date_now()
        .message_id(Some(message_id.clone()));
    if let Some(reply_to) = &sender.reply_to {
        b = b.reply_to(reply_to.clone());
    }
    if is_language_tag(d.locale) {
        b = b.raw_header(header("Content-Language", d.locale.to_owned()));
    }
    b = b.raw_header(header("Auto-Submitted", "auto-generated".to_owned()));
    if d.urgent {
        b = b
            .raw_header(header("Importance", "high".to_owned()))
            .raw_header(header("X-Priority", "1".to_owned()));
    }
    if let Some(key) = d.idempotency_key {
        let key = clean_token(key);
        if !key.is_empty() {
            b = b.raw_header(header(IDEMPOTENCY_HEADER, key));
        }
    }
    if let Some(links) = d.unsubscribe {
        let (url, https) = unsubscribe_url(&links.one_click)?;
        b = b.raw_header(header("List-Unsubscribe", format!("<{url}>")));
        // RFC 8058 one-click requires HTTPS; a plain-http link (local
        // development) is still offered, but only as a normal link.
        if https {
            b = b.raw_header(header(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".to_owned(),
            ));
        }
    }

    let built = match d.html {
        Some(html) => b.multipart(MultiPart::alternative_plain_html(
            d.text.to_owned(),
            html.to_owned(),
        )),
        None => b.singlepart(SinglePart::plain(d.text.to_owned())),
    };
    let mut message = built.map_err(|_| SendError::permanent("message could not be assembled"))?;
    if let Some(dkim) = &sender.dkim {
        message.sign(dkim);
    }
    Ok(BuiltMail {
        message,
        message_id,
    })
}

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// Parses the recipient as a bare address (`user@domain`).
fn parse_recipient(raw: &str) -> Result<Mailbox, SendError> {
    let invalid = || SendError::Permanent {
        reason: "invalid recipient address".to_owned(),
        recipient_gone: false,
    };
    let raw = raw.trim();
    if raw.is_empty() || raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid());
    }
    let addr = raw.parse::<lettre::Address>().map_err(|_| invalid())?;
    Ok(Mailbox::new(None, addr))
}

/// Checks an unsubscribe link; returns it and whether it is HTTPS.
fn unsubscribe_url(url: &str) -> Result<(&str, bool), SendError> {
    let bad = || SendError::Misconfigured {
        reason: "unsubscribe link is not an absolute http(s) URL".to_owned(),
    };
    let lower = url
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let (scheme_len, https) = if lower == "https://" {
        (8, true)
    } else if lower.starts_with("http://") {
        (7, false)
    } else {
        return Err(bad());
    };
    if url.len() == scheme_len
        || url.len() > 900
        || !url
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
    {
        return Err(bad());
    }
    Ok((url, https))
}

/// Makes text safe for a header: every control character (CR, LF, TAB, DEL,
/// C1) and Unicode line separator becomes a space, runs of whitespace
/// collapse, and the ends are trimmed. Header injection is impossible
/// because no line break survives.
pub(crate) fn clean_header_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_control() || c.is_whitespace() || c == '\u{2028}' || c == '\u{2029}' {
            pending_space = true;
        } else {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        }
    }
    out
}

/// The first non-blank line of `text`, cleaned for use as a subject.
fn first_line(text: &str) -> String {
    text.lines()
        .map(clean_header_text)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
}

/// Cuts `s` to at most `max` characters, ending in `…` when cut.
fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Keeps printable ASCII of an opaque token, at most 200 characters.
fn clean_token(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(200)
        .collect()
}

/// A plausible BCP 47 tag: letters, digits and hyphens, starting with a letter.
fn is_language_tag(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 35
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests;
