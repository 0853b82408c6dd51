//! What an announcement will look like on each channel before it goes out:
//! the message [`message`](super::message::message) renders for the
//! engine, from the channel's capabilities alone, with warnings where the
//! channel's limits cut the text, drop the picture or lose formatting.

use herold_channel_api::{Capabilities, Formatting, MediaKind, RenderedMessage, TemplateFields};
use pulldown_cmark::{Event, Parser, Tag};

use super::message::{message, Context};
use crate::domain::Announcement;

/// A channel to preview on.
pub struct Target {
    /// Stable name (`email`, `telegram`, `manual:whatsapp-kanal`).
    pub id: String,
    pub capabilities: Capabilities,
    /// The channel sends approved templates to residents who have not
    /// written within its conversation window (WhatsApp).
    pub has_window: bool,
}

/// A warning for staff, as a catalogue key with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Warning {
    fn new(key: &'static str) -> Self {
        Self {
            key,
            args: Vec::new(),
        }
    }

    fn with(mut self, name: &'static str, value: impl ToString) -> Self {
        self.args.push((name, value.to_string()));
        self
    }
}

/// The message one channel would send.
#[derive(Debug, Clone)]
pub struct ChannelPreview {
    pub id: String,
    pub formatting: Formatting,
    pub message: RenderedMessage,
    /// The template parameters sent outside the conversation window.
    pub template: Option<TemplateFields>,
    /// Characters of the text against the channel's limit.
    pub chars: usize,
    pub max_chars: Option<usize>,
    pub warnings: Vec<Warning>,
}

/// Which Markdown features a body uses.
#[derive(Debug, Default, Clone, Copy)]
struct Features {
    emphasis: bool,
    links: bool,
}

fn features(markdown: &str) -> Features {
    let mut f = Features::default();
    for e in Parser::new_ext(markdown, pulldown_cmark::Options::ENABLE_STRIKETHROUGH) {
        if let Event::Start(tag) = e {
            match tag {
                Tag::Strong | Tag::Emphasis | Tag::Strikethrough => f.emphasis = true,
                Tag::Link { .. } => f.links = true,
                _ => {}
            }
        }
    }
    f
}

/// Previews of `a` on every target, in the order given.
pub fn previews(
    a: &Announcement,
    targets: &[Target],
    cx: &Context<'_>,
) -> Result<Vec<ChannelPreview>, askama::Error> {
    let used = features(&a.body);
    targets
        .iter()
        .map(|t| {
            let m = message(a, &t.capabilities, cx)?;
            let mut warnings = Vec::new();
            // Cut: the full message differs from the one within the limit.
            if let Some(max) = t.capabilities.max_text_chars {
                let mut unlimited = t.capabilities.clone();
                unlimited.max_text_chars = None;
                let full = message(a, &unlimited, cx)?;
                if full.text != m.text {
                    warnings.push(
                        Warning::new("preview.warn.cut")
                            .with("max", max)
                            .with("full", full.text.chars().count()),
                    );
                }
            }
            if let Some(max) = t.capabilities.max_subject_chars {
                if a.title.chars().count() > max {
                    warnings.push(Warning::new("preview.warn.subject").with("max", max));
                }
            }
            if a.image.is_some() && !t.capabilities.supports_outbound_media(MediaKind::Image) {
                warnings.push(Warning::new("preview.warn.no_image"));
            }
            match t.capabilities.formatting {
                Formatting::Plain if used.emphasis || used.links => {
                    warnings.push(Warning::new("preview.warn.plain"))
                }
                Formatting::WhatsApp if used.links => {
                    warnings.push(Warning::new("preview.warn.links"))
                }
                _ => {}
            }
            let template = if t.has_window {
                let fields = m.fields.clone();
                if let Some(f) = &fields {
                    if f.summary.ends_with('…') {
                        warnings.push(
                            Warning::new("preview.warn.template")
                                .with("max", TemplateFields::SUMMARY_MAX),
                        );
                    }
                }
                fields
            } else {
                None
            };
            Ok(ChannelPreview {
                id: t.id.clone(),
                formatting: t.capabilities.formatting,
                chars: m.text.chars().count(),
                max_chars: t.capabilities.max_text_chars,
                message: m,
                template,
                warnings,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use herold_channel_api::{RateLimit, Reach};

    fn caps(formatting: Formatting, max: Option<usize>) -> Capabilities {
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
            unsubscribe_links: false,
        }
    }

    fn announcement(body: &str) -> Announcement {
        Announcement {
            id: 1,
            category_id: 1,
            title: "Wasserrohrbruch".into(),
            body: body.into(),
            urgent: false,
            publish_at: chrono::Utc::now(),
            created_at: chrono::Utc::now(),
            cancelled_at: None,
            corrects_id: None,
            author: "erik".into(),
            digest_id: None,
            event: None,
            image: None,
        }
    }

    fn cx() -> Context<'static> {
        Context {
            url: "https://herold.example/announcements/1",
            image_url: None,
            site: "Musterstadt",
            locale: "de",
            tz: chrono_tz::Europe::Berlin,
        }
    }

    fn keys(p: &ChannelPreview) -> Vec<&'static str> {
        p.warnings.iter().map(|w| w.key).collect()
    }

    #[test]
    fn warnings_name_what_each_channel_loses() {
        let body = format!(
            "Bitte **abkochen**, siehe [Karte](https://example.org/karte). {}",
            "Mehr Text. ".repeat(60)
        );
        let a = announcement(&body);
        let targets = [
            Target {
                id: "plain".into(),
                capabilities: caps(Formatting::Plain, None),
                has_window: false,
            },
            Target {
                id: "whatsapp".into(),
                capabilities: caps(Formatting::WhatsApp, Some(400)),
                has_window: true,
            },
            Target {
                id: "matrix".into(),
                capabilities: caps(Formatting::MatrixHtml, None),
                has_window: false,
            },
        ];
        let p = previews(&a, &targets, &cx()).unwrap();
        assert_eq!(keys(&p[0]), ["preview.warn.plain"]);
        // 660 characters: more than the template's summary takes, too.
        assert_eq!(
            keys(&p[1]),
            [
                "preview.warn.cut",
                "preview.warn.links",
                "preview.warn.template"
            ]
        );
        assert!(p[1].chars <= 400);
        assert!(p[1].template.is_some());
        assert!(p[2].warnings.is_empty());
        assert!(p[2].template.is_none());
        // Nothing to warn about in a short plain text.
        let plain = announcement("Das Wasser ist wieder trinkbar.");
        assert!(previews(&plain, &targets[..2], &cx())
            .unwrap()
            .iter()
            .all(|p| p.warnings.is_empty()));
    }
}
