//! E-mails from the askama templates in `templates/email/`: an
//! announcement as plain text and HTML (also the text chat channels send),
//! and the mails that carry one link (confirm a sign-up, manage a
//! subscription). Both kinds share `email/base.html` with the footer that
//! this is an information service.

use askama::Template;
use chrono_tz::Tz;

use super::{event_when, to_html, to_plain};
use crate::{domain::Announcement, i18n::Tr};

/// An announcement prepared for the mail templates.
pub struct AnnouncementView {
    pub title: String,
    pub html: String,
    pub plain: String,
    /// The announcement's public page.
    pub url: String,
    pub urgent: bool,
    pub event_when: Option<String>,
    pub event_where: Option<String>,
    /// The image's public URL and alt text.
    pub image: Option<ImageView>,
}

/// An announcement's image as a mail shows it.
pub struct ImageView {
    pub url: String,
    pub alt: String,
}

impl AnnouncementView {
    /// Renders the body once (Markdown to HTML and to plain text) and the
    /// event time in `tz` and the catalogue's formats. `image_url` is
    /// where the announcement's image is served, if it has one.
    pub fn new(a: &Announcement, url: &str, image_url: Option<&str>, tz: Tz, t: &Tr) -> Self {
        Self {
            title: a.title.clone(),
            html: to_html(&a.body),
            plain: to_plain(&a.body),
            url: url.to_owned(),
            urgent: a.urgent,
            event_when: a
                .event
                .as_ref()
                .map(|e| event_when(&e.time, tz, t.locale())),
            event_where: a.event.as_ref().and_then(|e| e.location.clone()),
            image: a.image.as_ref().zip(image_url).map(|(i, url)| ImageView {
                url: url.to_owned(),
                alt: i.alt.clone(),
            }),
        }
    }
}

/// Where the per-recipient links go in a newsletter: placeholders the
/// e-mail adapter fills for each recipient.
pub struct PersonalLinks<'a> {
    pub unsubscribe: &'a str,
    pub manage: &'a str,
}

#[derive(Template)]
#[template(path = "email/announcement.txt")]
struct AnnouncementText<'a> {
    t: &'a Tr,
    site: &'a str,
    a: &'a AnnouncementView,
    personal_links: bool,
    unsubscribe_url: &'a str,
    manage_url: &'a str,
}

#[derive(Template)]
#[template(path = "email/announcement.html")]
struct AnnouncementHtml<'a> {
    t: &'a Tr,
    site: &'a str,
    a: &'a AnnouncementView,
    personal_links: bool,
    unsubscribe_url: &'a str,
    manage_url: &'a str,
}

/// A mail's two bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bodies {
    pub text: String,
    pub html: String,
}

/// The announcement as plain text and HTML, with the unsubscribe and
/// manage links when `links` are given (newsletters), without for chat
/// channels.
pub fn announcement(
    a: &AnnouncementView,
    t: &Tr,
    site: &str,
    links: Option<PersonalLinks<'_>>,
) -> Result<Bodies, askama::Error> {
    let (personal_links, unsubscribe_url, manage_url) = match &links {
        Some(l) => (true, l.unsubscribe, l.manage),
        None => (false, "", ""),
    };
    let text = AnnouncementText {
        t,
        site,
        a,
        personal_links,
        unsubscribe_url,
        manage_url,
    }
    .render()?;
    let html = AnnouncementHtml {
        t,
        site,
        a,
        personal_links,
        unsubscribe_url,
        manage_url,
    }
    .render()?;
    Ok(Bodies { text, html })
}

/// Mails that carry one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMail {
    /// Confirm a sign-up (double opt-in).
    Confirm,
    /// The address is subscribed already: the manage page.
    Manage,
}

impl LinkMail {
    fn key(self) -> &'static str {
        match self {
            Self::Confirm => "mail.confirm",
            Self::Manage => "mail.manage",
        }
    }
}

#[derive(Template)]
#[template(path = "email/link.txt")]
struct LinkText<'a> {
    t: &'a Tr,
    site: &'a str,
    link: &'a str,
    text: &'a str,
    note: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "email/link.html")]
struct LinkHtml<'a> {
    t: &'a Tr,
    site: &'a str,
    link: &'a str,
    text: &'a str,
    button: &'a str,
    note: Option<&'a str>,
}

/// Subject and bodies of a mail with one link.
pub fn link_mail(
    kind: LinkMail,
    t: &Tr,
    site: &str,
    link: &str,
) -> Result<(String, Bodies), askama::Error> {
    let k = kind.key();
    let (text_key, button, note) = (
        format!("{k}.text"),
        format!("{k}.button"),
        format!("{k}.ignore"),
    );
    let text = LinkText {
        t,
        site,
        link,
        text: &text_key,
        note: Some(&note),
    }
    .render()?;
    let html = LinkHtml {
        t,
        site,
        link,
        text: &text_key,
        button: &button,
        note: Some(&note),
    }
    .render()?;
    Ok((t.get(&format!("{k}.subject")), Bodies { text, html }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Event, EventTime};
    use chrono::{TimeZone, Utc};

    fn view(title: &str, event: bool) -> AnnouncementView {
        AnnouncementView {
            title: title.into(),
            html: to_html("Die **Hauptstraße** ist gesperrt."),
            plain: to_plain("Die **Hauptstraße** ist gesperrt."),
            url: "https://herold.example/announcements/7".into(),
            urgent: true,
            event_when: event.then(|| "05.12.2026, 18:00 Uhr".into()),
            event_where: event.then(|| "Bürgerhaus".into()),
            image: event.then(|| ImageView {
                url: "https://herold.example/media/3.jpg".into(),
                alt: "Plan der Umleitung über die Bahnhofstraße".into(),
            }),
        }
    }

    #[test]
    fn newsletter_text_and_html() {
        let t = Tr::new("de");
        let v = view("Sperrung <Hauptstraße> & \"Umleitung\"", true);
        let links = PersonalLinks {
            unsubscribe: "{{unsubscribe_url}}",
            manage: "{{manage_url}}",
        };
        let b = announcement(&v, &t, "Gemeinde Musterstadt", Some(links)).unwrap();
        assert_eq!(
            b.text,
            "Sperrung <Hauptstraße> & \"Umleitung\"\n\n\
             Die Hauptstraße ist gesperrt.\n\n\
             Bild: Plan der Umleitung über die Bahnhofstraße\n\
             https://herold.example/media/3.jpg\n\n\
             Termin: 05.12.2026, 18:00 Uhr\n\
             Ort: Bürgerhaus\n\n\
             https://herold.example/announcements/7\n\n\
             -- \n\
             Gemeinde Musterstadt\n\
             Dies ist ein Informationsdienst. Offizielle Anliegen richten Sie bitte wie gewohnt per Telefon, E-Mail, Fax oder Post an die zuständigen Stellen.\n\
             Abmelden: {{unsubscribe_url}}\n\
             Themen ändern oder Daten löschen: {{manage_url}}"
        );
        let h = &b.html;
        assert!(
            h.contains("<title>Sperrung &#60;Hauptstraße&#62; &#38; &#34;Umleitung&#34;</title>")
                || h.contains("&lt;Hauptstraße&gt;"),
            "{h}"
        );
        assert!(!h.contains("<Hauptstraße>"), "{h}");
        assert!(h.contains("<strong>Hauptstraße</strong>"), "{h}");
        assert!(h.contains("Bürgerhaus"), "{h}");
        assert!(
            h.contains(r#"<img src="https://herold.example/media/3.jpg" alt="Plan der Umleitung über die Bahnhofstraße""#),
            "{h}"
        );
        assert!(
            h.contains(r#"<a href="{{unsubscribe_url}}">Abmelden</a>"#),
            "{h}"
        );
        assert!(
            h.contains(r#"<a href="https://herold.example/announcements/7">Im Web lesen</a>"#),
            "{h}"
        );
        assert!(h.contains("Informationsdienst"), "{h}");
    }

    #[test]
    fn chat_text_has_no_personal_links() {
        let t = Tr::new("en");
        let b = announcement(&view("Closure", false), &t, "Town", None).unwrap();
        assert!(
            b.text
                .starts_with("Closure\n\nDie Hauptstraße ist gesperrt.\n\nhttps://"),
            "{}",
            b.text
        );
        assert!(b.text.ends_with("information service. Please address official matters to the responsible offices by phone, e-mail, fax or post as usual."), "{}", b.text);
        assert!(!b.html.contains("{{unsubscribe_url}}"));
    }

    #[test]
    fn view_formats_the_event() {
        let start = Utc.with_ymd_and_hms(2026, 12, 5, 17, 0, 0).unwrap();
        let a = Announcement {
            id: 7,
            category_id: 1,
            title: "Adventsmarkt".into(),
            body: "Glühwein".into(),
            urgent: false,
            publish_at: start,
            created_at: start,
            cancelled_at: None,
            corrects_id: None,
            author: "cli".into(),
            digest_id: None,
            event: Some(Event::new(EventTime::At { start, end: None }, Some("Rathaus")).unwrap()),
            image: None,
        };
        let v = AnnouncementView::new(&a, "u", None, chrono_tz::Europe::Berlin, &Tr::new("de"));
        assert_eq!(v.event_when.as_deref(), Some("05.12.2026, 18:00 Uhr"));
        assert_eq!(v.event_where.as_deref(), Some("Rathaus"));
    }

    #[test]
    fn link_mails() {
        let t = Tr::new("de");
        let (subject, b) = link_mail(LinkMail::Manage, &t, "Ort", "https://x/manage/abc").unwrap();
        assert_eq!(subject, "Ihr E-Mail-Abonnement");
        assert!(b.text.contains("bereits angemeldet"), "{}", b.text);
        assert!(b.text.contains("https://x/manage/abc"));
        assert!(
            b.html.contains(r#"href="https://x/manage/abc""#),
            "{}",
            b.html
        );
        let (subject, b) = link_mail(LinkMail::Confirm, &t, "Ort", "https://x/c").unwrap();
        assert_eq!(subject, "Bitte bestätigen Sie Ihre Anmeldung");
        assert!(b.html.contains("Anmeldung bestätigen"));
        assert!(b.text.contains("ignorieren"));
    }
}
