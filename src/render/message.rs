//! Turning an announcement into the message one channel sends, from that
//! channel's [`Capabilities`] alone: its formatting, its length limit,
//! whether it attaches images and whether it carries per-recipient links.

use chrono_tz::Tz;
use herold_channel_api::{
    Capabilities, Formatting, Media, MediaKind, RenderedMessage, TemplateFields, UnsubscribeLinks,
};

use super::{
    event_when,
    format::{self, Parts},
    mail::{self, AnnouncementView, PersonalLinks},
};
use crate::{domain::Announcement, i18n::Tr};

/// Where and for whom a message is rendered.
pub struct Context<'a> {
    /// The announcement's public page.
    pub url: &'a str,
    /// Where its image is served, if it has one.
    pub image_url: Option<&'a str>,
    /// The town's name, signing every message.
    pub site: &'a str,
    pub locale: &'a str,
    pub tz: Tz,
}

/// The message for one announcement on a channel with `capabilities`.
///
/// E-mail ([`Formatting::Html`]) comes from the templates in
/// `templates/email/` (a text and an HTML part, with unsubscribe and manage
/// placeholders when the channel carries per-recipient links); every other
/// form from [`format::format`], cut to the channel's `max_text_chars` at a
/// word boundary with a link to the announcement's page. Both sign with the
/// footer that this is an information service (official matters go the
/// official ways).
pub fn message(
    a: &Announcement,
    capabilities: &Capabilities,
    cx: &Context<'_>,
) -> Result<RenderedMessage, askama::Error> {
    let t = Tr::new(cx.locale);
    let mut m = match capabilities.formatting {
        Formatting::Html => {
            let view = AnnouncementView::new(a, cx.url, cx.image_url, cx.tz, &t);
            let links = capabilities.unsubscribe_links.then_some(PersonalLinks {
                unsubscribe: UnsubscribeLinks::UNSUBSCRIBE_PLACEHOLDER,
                manage: UnsubscribeLinks::MANAGE_PLACEHOLDER,
            });
            let bodies = mail::announcement(&view, &t, cx.site, links)?;
            let mut m = RenderedMessage::new(bodies.text, cx.locale);
            m.html = Some(bodies.html);
            m
        }
        other => {
            let event = a.event.as_ref().map(|e| {
                let when = format!(
                    "{}: {}",
                    t.get("page.event_when"),
                    event_when(&e.time, cx.tz, cx.locale)
                );
                match &e.location {
                    Some(place) => format!("{when} · {}: {place}", t.get("page.event_where")),
                    None => when,
                }
            });
            let urgent = t.get("page.urgent");
            let read_more = t.get("message.read_more");
            let footer = format!("{}\n{}", cx.site, t.get("message.footer"));
            let parts = Parts {
                title: &a.title,
                body_markdown: &a.body,
                urgent_label: a.urgent.then_some(urgent.as_str()),
                event: event.as_deref(),
                link: cx.url,
                read_more: &read_more,
                footer: &footer,
            };
            let f = format::format(&parts, other, capabilities.max_text_chars);
            let mut m = RenderedMessage::new(f.text, cx.locale);
            m.html = f.html;
            m
        }
    };
    m.subject = Some(a.title.clone());
    m.link = Some(cx.url.to_owned());
    // Channels that attach pictures get the image itself, described by its
    // alt text.
    if let (Some(image), Some(url), true) = (
        &a.image,
        cx.image_url,
        capabilities.supports_outbound_media(MediaKind::Image),
    ) {
        m.media.push(Media {
            kind: MediaKind::Image,
            url: url.to_owned(),
            mime_type: image.format.mime_type().to_owned(),
            caption: Some(image.alt.clone()),
        });
    }
    m.urgent = a.urgent;
    m.fields = Some(template_fields(a, cx, &t));
    Ok(m)
}

/// `s` cut to `max` characters at a word, marked with `…` when shortened.
fn cut_at_word(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let cut: String = s.chars().take(max.saturating_sub(1)).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > cut.len() / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!("{cut}…")
}

/// The announcement as single-line template parameters
/// ([`TemplateFields`]): whitespace folded, never empty, cut at a word.
fn template_fields(a: &Announcement, cx: &Context<'_>, t: &Tr) -> TemplateFields {
    let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let title = match a.urgent {
        true => format!("{}: {}", t.get("page.urgent"), one_line(&a.title)),
        false => one_line(&a.title),
    };
    let title = cut_at_word(&title, TemplateFields::TITLE_MAX);
    let summary = super::markdown::summary(&a.body, TemplateFields::SUMMARY_MAX);
    TemplateFields {
        summary: if summary.is_empty() {
            title.clone()
        } else {
            summary
        },
        title,
        link: cx.url.to_owned(),
        site: one_line(cx.site),
        digest: a.digest_id.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herold_channel_api::{RateLimit, Reach};

    fn announcement(body: &str) -> Announcement {
        Announcement {
            id: 7,
            category_id: 1,
            title: "Sperrung <Hauptstraße> & *Umleitung*".into(),
            body: body.into(),
            urgent: true,
            publish_at: chrono::Utc::now(),
            created_at: chrono::Utc::now(),
            cancelled_at: None,
            corrects_id: None,
            author: "cli".into(),
            digest_id: None,
            event: None,
            image: None,
        }
    }

    fn caps(formatting: Formatting, max: Option<usize>, links: bool) -> Capabilities {
        Capabilities {
            reach: Reach::Push,
            max_text_chars: max,
            max_subject_chars: None,
            formatting,
            outbound_media: vec![],
            inbound_media: vec![],
            default_rate: RateLimit::new(1.0, 1),
            per_recipient_rate: None,
            inbound: false,
            delivery_receipts: false,
            read_receipts: false,
            idempotent_sends: false,
            unsubscribe_links: links,
        }
    }

    fn cx() -> Context<'static> {
        Context {
            url: "https://herold.example/announcements/7",
            image_url: None,
            site: "Gemeinde Musterstadt",
            locale: "de",
            tz: chrono_tz::Europe::Berlin,
        }
    }

    #[test]
    fn email_gets_both_parts_and_the_personal_placeholders() {
        let a = announcement("Die **Hauptstraße** ist gesperrt.");
        let m = message(&a, &caps(Formatting::Html, None, true), &cx()).unwrap();
        assert!(m.text.contains(UnsubscribeLinks::UNSUBSCRIBE_PLACEHOLDER));
        assert!(m
            .html
            .as_deref()
            .unwrap()
            .contains("<strong>Hauptstraße</strong>"));
        let without = message(&a, &caps(Formatting::Html, None, false), &cx()).unwrap();
        assert!(!without.text.contains("{{"));
        assert_eq!(m.subject.as_deref(), Some(a.title.as_str()));
        assert!(m.urgent);
    }

    #[test]
    fn chat_channels_get_their_own_form_within_their_limit() {
        let long = "Wort ".repeat(2000);
        let a = announcement(&long);
        let telegram = message(
            &a,
            &caps(Formatting::TelegramHtml, Some(4096), false),
            &cx(),
        )
        .unwrap();
        assert!(telegram.text.chars().count() <= 4096);
        assert!(telegram.text.contains("<b>"), "{}", telegram.text);
        assert!(telegram.text.contains("&lt;Hauptstraße&gt; &amp;"));
        assert!(telegram
            .text
            .contains("Weiterlesen: https://herold.example/announcements/7"));
        assert!(telegram.text.contains("Dringend"));
        assert!(telegram.html.is_none());
        let whatsapp = message(&a, &caps(Formatting::WhatsApp, Some(1024), false), &cx()).unwrap();
        assert!(whatsapp.text.chars().count() <= 1024);
        assert!(!whatsapp.text.contains("*Umleitung*"), "{}", whatsapp.text);
        let matrix = message(&a, &caps(Formatting::MatrixHtml, None, false), &cx()).unwrap();
        assert!(matrix.html.is_some());
        assert!(matrix.text.contains("Informationsdienst"));
    }

    /// Script injection in a title and body: every channel's form shows
    /// it as text. HTML forms (e-mail, Telegram, Matrix) escape it and keep
    /// no tag, attribute or link the text did not make through Markdown;
    /// plain forms carry it literally (their clients show no HTML).
    #[test]
    fn script_in_title_and_body_stays_text_in_every_channel() {
        let mut a = announcement(
            "<script>alert('b')</script> <img src=x onerror=alert(2)> \
             [klick](javascript:alert(3)) <a href=\"javascript:alert(4)\">x</a> \
             <iframe src=//evil.example></iframe>",
        );
        a.title = "<script>alert('t')</script>\"><svg onload=alert(1)>".into();
        for formatting in [
            Formatting::Html,
            Formatting::TelegramHtml,
            Formatting::MatrixHtml,
            Formatting::WhatsApp,
            Formatting::Plain,
        ] {
            let m = message(&a, &caps(formatting, Some(4096), true), &cx()).unwrap();
            let markup: Vec<&str> = match formatting {
                Formatting::Html | Formatting::MatrixHtml => {
                    vec![m.html.as_deref().unwrap()]
                }
                Formatting::TelegramHtml => vec![m.text.as_str()],
                Formatting::WhatsApp | Formatting::Plain => vec![],
            };
            for html in markup {
                // Every real tag (text's "<" is escaped, so each "<" opens
                // one): none the text made, no handler, no script link.
                for tag in html.split('<').skip(1) {
                    let tag = tag.split('>').next().unwrap_or("").to_lowercase();
                    let name = tag.split_whitespace().next().unwrap_or("");
                    assert!(
                        !["script", "img", "svg", "iframe"].contains(&name),
                        "{formatting:?}: <{tag}> in\n{html}"
                    );
                    assert!(
                        !tag.split_whitespace().skip(1).any(|a| a.starts_with("on")),
                        "{formatting:?}: a handler in <{tag}>"
                    );
                    assert!(
                        !tag.replace(['"', '\''], "").contains("=javascript:"),
                        "{formatting:?}: a script link in <{tag}>"
                    );
                }
                assert!(html.contains("&lt;script&gt;"), "{formatting:?}:\n{html}");
            }
            if matches!(formatting, Formatting::WhatsApp | Formatting::Plain) {
                assert!(
                    m.text.contains("<script>alert('t')</script>"),
                    "{formatting:?}"
                );
            }
            if let Some(subject) = &m.subject {
                assert_eq!(subject, &a.title, "subjects are plain text");
            }
        }
    }
}
