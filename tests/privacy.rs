//! Personal data is encrypted at rest: the SQLite file (and its WAL) never
//! contain a subscriber's address or a resident's message in clear text.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TestDb;
use herold::{
    domain::{Direction, NewMessage, Slug, SubscriberStatus},
    storage::NewSubscriber,
};
use herold_channel_api::ChannelKind;

fn file_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["herold.db", "herold.db-wal", "herold.db-shm"] {
        if let Ok(b) = std::fs::read(dir.join(name)) {
            all.extend(b);
        }
    }
    all
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn address_and_message_text_never_in_the_sqlite_file() {
    let t = TestDb::sqlite();
    let db = t.app.db();
    let cat = db
        .add_category(
            &Slug::parse("abfall").unwrap(),
            "Müllabfuhr Nordviertel",
            &common::test_audit,
        )
        .unwrap();
    let address = "anna.privat@example.org";
    let phone = "+4915112349876";
    let report = "Schlagloch vor Hausnummer 17";
    let s = db
        .insert_subscriber(&NewSubscriber {
            channel: ChannelKind::Email,
            address: address.into(),
            locale: "de".into(),
            status: SubscriberStatus::Active,
            category_ids: vec![cat.id],
            wording_version: "v1".into(),
            evidence: None,
        })
        .unwrap();
    db.insert_subscriber(&NewSubscriber {
        channel: ChannelKind::WhatsApp,
        address: phone.into(),
        locale: "de".into(),
        status: SubscriberStatus::Active,
        category_ids: vec![],
        wording_version: "v1".into(),
        evidence: None,
    })
    .unwrap();
    let conv = db.open_conversation(s.id).unwrap();
    db.add_message(
        conv.id,
        &NewMessage {
            direction: Direction::Inbound,
            text: Some(report.into()),
            media_ref: None,
            provider_message_id: None,
            staff_user_id: None,
        },
    )
    .unwrap();

    let bytes = file_bytes(t.dir.path());
    // The grep works: non-personal data written in the same way is found...
    assert!(
        contains(&bytes, "Müllabfuhr Nordviertel"),
        "sanity check: category name should be stored in clear"
    );
    // ...but the address, the phone number and the report are not.
    for secret in [address, "anna.privat", phone, "15112349876", report] {
        assert!(
            !contains(&bytes, secret),
            "{secret:?} found in clear text in the database file"
        );
    }
    // They are still there, for whoever holds the key.
    assert_eq!(
        db.subscriber_address(s.id).unwrap().as_deref(),
        Some(address)
    );
    assert_eq!(
        db.messages_of(conv.id).unwrap()[0].text.as_deref(),
        Some(report)
    );
}

/// A resident's photo is stored encrypted: neither its bytes nor its
/// caption are in the SQLite file, and it is gone with the conversation
/// when the resident erases themselves.
#[test]
fn photos_are_encrypted_and_erased_with_the_resident() {
    let t = TestDb::sqlite();
    let db = t.app.db();
    let caption = "Wilder Müll am Waldweg 3";
    let jpeg = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/media/gps.jpg"),
    )
    .unwrap();
    let photo = herold::media::prepare_photo(jpeg, 1 << 20).unwrap();
    let s = db
        .insert_subscriber(&NewSubscriber {
            channel: ChannelKind::Telegram,
            address: "5550001".into(),
            locale: "de".into(),
            status: SubscriberStatus::Active,
            category_ids: vec![],
            wording_version: "v1".into(),
            evidence: None,
        })
        .unwrap();
    db.resident_wrote(s.id, Some(caption), Some(&photo), "5550001:1")
        .unwrap();
    // Any 32 bytes of the stored image would give it away.
    let mid = photo.bytes.len() / 2;
    let windows = [&photo.bytes[..32], &photo.bytes[mid..mid + 32]];
    let bytes = file_bytes(t.dir.path());
    assert!(!contains(&bytes, caption), "caption in clear text");
    for w in windows {
        assert!(
            !bytes.windows(w.len()).any(|x| x == w),
            "photo bytes in clear text"
        );
    }
    db.erase_subscriber(s.id, "v1", herold::domain::ErasureRecord::Anonymous, None)
        .unwrap();
    assert!(db.photos_of(1).unwrap().is_empty());
    assert!(matches!(
        db.photo_file(1),
        Err(herold::storage::StorageError::NotFound { .. })
    ));
}

/// A log sink shared with the test.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn no_address_or_text_in_logs_even_at_trace_level() {
    let sink = Captured::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let address = "geheim.person@example.org";
    let text = "Mein Nachbar parkt falsch";
    tracing::subscriber::with_default(subscriber, || {
        let t = TestDb::sqlite();
        let db = t.app.db();
        let cat = db
            .add_category(
                &Slug::parse("abfall").unwrap(),
                "Abfall",
                &common::test_audit,
            )
            .unwrap();
        let new = NewSubscriber {
            channel: ChannelKind::Email,
            address: address.into(),
            locale: "de".into(),
            status: SubscriberStatus::Pending,
            category_ids: vec![cat.id],
            wording_version: "v1".into(),
            evidence: None,
        };
        tracing::debug!(?new, "about to insert");
        let s = db.insert_subscriber(&new).unwrap();
        // A duplicate fails; its error is logged the way callers would.
        let dup = db.insert_subscriber(&new).unwrap_err();
        tracing::warn!(error = %dup, "duplicate");
        let conv = db.open_conversation(s.id).unwrap();
        let msg = db
            .add_message(
                conv.id,
                &NewMessage {
                    direction: Direction::Inbound,
                    text: Some(text.into()),
                    media_ref: None,
                    provider_message_id: None,
                    staff_user_id: None,
                },
            )
            .unwrap();
        tracing::info!(?msg, "stored");
        t.app
            .publish(&common::publish_request(
                "abfall",
                "Öffentlicher Titel",
                "Öffentlicher Text",
            ))
            .unwrap();
    });
    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("about to insert") && logs.contains("announcement stored"),
        "the capture works:\n{logs}"
    );
    for secret in [address, "geheim.person", text] {
        assert!(
            !logs.contains(secret),
            "{secret:?} appeared in the logs:\n{logs}"
        );
    }
}
