//! Turning an announcement into the message a channel sends.

use herold_channel_api::{ChannelKind, RenderedMessage};
use herold_channel_email::{MANAGE_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER};

use crate::{domain::Announcement, i18n::t, render};

/// The message for one announcement on one channel: title and plain text
/// for chat channels, HTML for e-mail, the public page as link, and the
/// footer that this is an information service (official matters go the
/// official ways). E-mail also gets the recipient's unsubscribe and manage
/// links, filled in per recipient by the adapter.
pub fn message(a: &Announcement, url: &str, locale: &str, channel: ChannelKind) -> RenderedMessage {
    let plain = render::to_plain(&a.body);
    let footer = t(locale, "message.footer", &[]);
    let mut text = format!("{}\n\n{}\n\n{}\n\n{}", a.title, plain, url, footer);
    let mut html = format!(
        "{}\n<p><a href=\"{}\">{}</a></p>\n<hr>\n<p style=\"color:#555;font-size:.9em\">{}</p>",
        render::to_html(&a.body),
        escape(url),
        escape(url),
        escape(&footer)
    );
    if channel == ChannelKind::Email {
        let leave = t(locale, "message.unsubscribe", &[]);
        let manage = t(locale, "message.manage", &[]);
        text.push_str(&format!(
            "\n{leave}: {UNSUBSCRIBE_PLACEHOLDER}\n{manage}: {MANAGE_PLACEHOLDER}"
        ));
        html.push_str(&format!(
            "\n<p style=\"color:#555;font-size:.9em\"><a href=\"{UNSUBSCRIBE_PLACEHOLDER}\">{}</a> · <a href=\"{MANAGE_PLACEHOLDER}\">{}</a></p>",
            escape(&leave),
            escape(&manage)
        ));
    }
    let mut m = RenderedMessage::new(text, locale);
    m.subject = Some(a.title.clone());
    m.html = Some(html);
    m.link = Some(url.to_owned());
    m.urgent = a.urgent;
    m
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
