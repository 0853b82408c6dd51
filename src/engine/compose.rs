//! Turning an announcement into the message a channel sends.

use chrono_tz::Tz;
use herold_channel_api::{Media, MediaKind, RenderedMessage, UnsubscribeLinks};

use crate::{
    domain::Announcement,
    i18n::Tr,
    render::mail::{self, AnnouncementView, PersonalLinks},
};

/// What a message is rendered for.
pub struct Context<'a> {
    /// The announcement's public page.
    pub url: &'a str,
    /// Where its image is served, if it has one.
    pub image_url: Option<&'a str>,
    /// Whether the channel attaches images (its capabilities); e-mail
    /// shows the image inline by its URL instead.
    pub attach_images: bool,
    /// Whether the channel carries per-recipient unsubscribe and manage
    /// links (its capabilities: e-mail).
    pub personal_links: bool,
    /// The town's name, signing every message.
    pub site: &'a str,
    pub locale: &'a str,
    pub tz: Tz,
}

/// The message for one announcement on one channel, from the templates in
/// `templates/email/`: title, text, event and the public page as link,
/// signed with the footer that this is an information service (official
/// matters go the official ways), and the HTML part. Channels that carry
/// per-recipient links (e-mail) get unsubscribe and manage placeholders,
/// filled in per recipient by the adapter.
pub fn message(a: &Announcement, cx: &Context<'_>) -> Result<RenderedMessage, askama::Error> {
    let t = Tr::new(cx.locale);
    let view = AnnouncementView::new(a, cx.url, cx.image_url, cx.tz, &t);
    let links = cx.personal_links.then_some(PersonalLinks {
        unsubscribe: UnsubscribeLinks::UNSUBSCRIBE_PLACEHOLDER,
        manage: UnsubscribeLinks::MANAGE_PLACEHOLDER,
    });
    let bodies = mail::announcement(&view, &t, cx.site, links)?;
    let mut m = RenderedMessage::new(bodies.text, cx.locale);
    m.subject = Some(a.title.clone());
    m.html = Some(bodies.html);
    m.link = Some(cx.url.to_owned());
    // Channels that attach pictures get the image itself.
    if let (Some(image), Some(url), true) = (&a.image, cx.image_url, cx.attach_images) {
        m.media.push(Media {
            kind: MediaKind::Image,
            url: url.to_owned(),
            mime_type: image.format.mime_type().to_owned(),
            caption: Some(image.alt.clone()),
        });
    }
    m.urgent = a.urgent;
    Ok(m)
}
