//! `herold demo`: a demo municipality in a database of its own, its
//! channels sandboxes. What each resident would receive appears on the
//! `/demo` pages, every page carries a "Demo" banner, and a demo never
//! runs on a database with real residents (`storage::Database::mark_demo`).

pub mod sandbox;

use chrono::Utc;
use herold_channel_api::{ChannelKind, FetchedMedia};
use std::sync::Arc;

use crate::{
    domain::{Event, EventTime, Role, SubscriberStatus},
    service::{Herold, PublishRequest, ServiceError, CONSENT_WORDING_VERSION},
    storage::NewSubscriber,
};
pub use sandbox::{Sandbox, SandboxChannel, SandboxMessage};

/// The channels the demo delivers on.
pub const CHANNELS: [ChannelKind; 4] = [
    ChannelKind::Email,
    ChannelKind::Telegram,
    ChannelKind::WhatsApp,
    ChannelKind::Matrix,
];

/// The demo's staff password (every demo account).
pub const PASSWORD: &str = "demo-passwort-2026";

/// A small photo a resident "sent" (metadata is stripped like any other).
const PHOTO: &[u8] = include_bytes!("../../tests/fixtures/media/gps.jpg");

/// Why the demo cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("{0}")]
    Staff(String),
}

impl From<crate::storage::StorageError> for DemoError {
    fn from(e: crate::storage::StorageError) -> Self {
        Self::Service(e.into())
    }
}

/// The sandbox adapters, one per demo channel.
pub fn channels(sandbox: &Arc<Sandbox>) -> Vec<Arc<dyn herold_channel_api::Channel>> {
    CHANNELS
        .iter()
        .map(|k| {
            Arc::new(SandboxChannel::new(*k, sandbox.clone()))
                as Arc<dyn herold_channel_api::Channel>
        })
        .collect()
}

/// Makes sure the database is a demo database, seeding it when it is new:
/// categories, staff accounts for every role, residents on every channel,
/// announcements (with an event and a correction) and conversations with a
/// photo. Returns whether it seeded.
pub fn prepare(app: &Herold) -> Result<bool, DemoError> {
    if app.db().is_demo()? {
        return Ok(false);
    }
    app.db().mark_demo()?;
    let actor = "demo";
    for (slug, name) in [
        ("abfall", "Abfall und Wertstoffe"),
        ("verkehr", "Verkehr und Baustellen"),
        ("kultur", "Kultur und Veranstaltungen"),
        ("warnungen", "Warnungen"),
    ] {
        app.add_category(slug, name, actor)?;
    }
    app.set_category_approval("warnungen", true, actor)?;
    for (user, name, role) in [
        ("admin", "Anna Admin", Role::Admin),
        ("redaktion", "Erik Redaktion", Role::Editor),
        ("redaktion2", "Emma Redaktion", Role::Editor),
        ("moderation", "Moritz Moderation", Role::Moderator),
        ("datenschutz", "Dora Datenschutz", Role::Dpo),
    ] {
        app.add_staff_user(user, name, role, PASSWORD, actor)
            .map_err(|e| DemoError::Staff(e.to_string()))?;
    }
    let ids = |slugs: &[&str]| -> Result<Vec<i64>, DemoError> {
        slugs
            .iter()
            .map(|s| Ok(app.db().find_category(s)?.map(|c| c.id).unwrap_or_default()))
            .collect()
    };
    let residents: [(ChannelKind, &str, &[&str]); 8] = [
        (
            ChannelKind::Email,
            "erika.mustermann@example.org",
            &["abfall", "kultur"],
        ),
        (
            ChannelKind::Email,
            "hans.beispiel@example.org",
            &["verkehr", "warnungen"],
        ),
        (
            ChannelKind::Telegram,
            "710000001",
            &["abfall", "verkehr", "warnungen"],
        ),
        (ChannelKind::Telegram, "710000002", &["kultur"]),
        (
            ChannelKind::WhatsApp,
            "4915100000001",
            &["abfall", "warnungen"],
        ),
        (ChannelKind::WhatsApp, "4915100000002", &["verkehr"]),
        (
            ChannelKind::Matrix,
            "!anna:demo.example.org",
            &["kultur", "warnungen"],
        ),
        (ChannelKind::Matrix, "!ben:demo.example.org", &["abfall"]),
    ];
    for (channel, address, categories) in residents {
        app.db().insert_subscriber(&NewSubscriber {
            channel,
            address: address.to_owned(),
            locale: app.config().default_locale.clone(),
            status: SubscriberStatus::Active,
            category_ids: ids(categories)?,
            wording_version: CONSENT_WORDING_VERSION.to_owned(),
            evidence: Some("demo".into()),
        })?;
    }
    // Reports first, so WhatsApp's first resident is inside the window
    // (as the inbound processor records for a real message).
    for (channel, from) in [
        (ChannelKind::WhatsApp, "+4915100000001"),
        (ChannelKind::Telegram, "710000001"),
        (ChannelKind::Matrix, "!anna:demo.example.org"),
    ] {
        app.db().record_inbound(channel, from, Utc::now())?;
    }
    app.resident_message(
        ChannelKind::WhatsApp,
        "+4915100000001",
        "Die Straßenlaterne vor der Lindenstraße 3 ist seit Tagen dunkel.",
        "demo-1",
    )?;
    app.resident_photo(
        ChannelKind::Telegram,
        "710000001",
        Some("Umgestürzter Baum am Radweg nach Oberdorf"),
        Some(Ok(FetchedMedia {
            bytes: PHOTO.to_vec(),
            mime_type: Some("image/jpeg".into()),
        })),
        "demo-2",
    )?;
    app.resident_message(
        ChannelKind::Matrix,
        "!anna:demo.example.org",
        "Wann ist der Wertstoffhof an Feiertagen geöffnet?",
        "demo-3",
    )?;
    let publish = |category: &str, title: &str, body: &str, urgent: bool, event: Option<Event>| {
        app.publish(&PublishRequest {
            category: category.into(),
            title: title.into(),
            body: body.into(),
            urgent,
            at: None,
            corrects: None,
            author: "redaktion".into(),
            event,
        })
    };
    let biotonne = publish(
        "abfall",
        "Biotonne: Leerung am Samstag",
        "Wegen des Feiertags wird die **Biotonne** in dieser Woche erst am *Samstag* geleert. Details im [Abfallkalender](https://www.musterstadt.example/abfall).",
        false,
        None,
    )?;
    publish(
        "verkehr",
        "Hauptstraße ab Montag gesperrt",
        "Wegen Kanalarbeiten ist die Hauptstraße zwischen Rathaus und Bahnhof ab Montag für zwei Wochen gesperrt.\n\n- Umleitung über den Lindenweg\n- Bushaltestelle „Rathaus“ verlegt",
        false,
        None,
    )?;
    let day = Utc::now().date_naive() + chrono::Duration::days(9);
    publish(
        "kultur",
        "Weihnachtsmarkt auf dem Rathausplatz",
        "Der Weihnachtsmarkt öffnet mit Musik der Jugendkapelle.",
        false,
        Some(
            Event::new(
                EventTime::AllDay {
                    start: day,
                    last: Some(day + chrono::Duration::days(2)),
                },
                Some("Rathausplatz"),
            )
            .map_err(ServiceError::from)?,
        ),
    )?;
    publish(
        "warnungen",
        "Unwetterwarnung: Sturmböen bis 90 km/h",
        "Der Deutsche Wetterdienst warnt für heute Abend vor Sturmböen. Bitte sichern Sie lose Gegenstände und meiden Sie Waldwege.",
        true,
        None,
    )?;
    app.publish(&PublishRequest {
        category: "abfall".into(),
        title: "Berichtigung: Biotonne am Freitag".into(),
        body: "Korrektur: Die Biotonne wird bereits am **Freitag** geleert.".into(),
        urgent: false,
        at: None,
        corrects: Some(biotonne.id),
        author: "redaktion".into(),
        event: None,
    })?;
    Ok(true)
}
