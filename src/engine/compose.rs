//! Turning an announcement into the message a channel sends.

use herold_channel_api::RenderedMessage;

use crate::{domain::Announcement, render};

/// The message for one announcement: title and plain text for chat
/// channels, HTML for e-mail, the public page as link.
pub fn message(a: &Announcement, url: &str, locale: &str) -> RenderedMessage {
    let plain = render::to_plain(&a.body);
    let mut m = RenderedMessage::new(format!("{}\n\n{}\n\n{}", a.title, plain, url), locale);
    m.subject = Some(a.title.clone());
    m.html = Some(render::to_html(&a.body));
    m.link = Some(url.to_owned());
    m.urgent = a.urgent;
    m
}
