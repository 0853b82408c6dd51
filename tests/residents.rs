//! Residents' commands in the core, the same for every messenger: the
//! subscriber, their categories, the consent ledger with the inbound
//! message as evidence, and the reply in their language — on SQLite and
//! PostgreSQL.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;

use common::TestDb;
use herold::{
    domain::{ConsentKind, SubscriberStatus},
    service::{CommandOutcome, ResidentCommand, CONSENT_WORDING_VERSION},
};
use herold_channel_api::{ChannelKind, Command};

const CHAT: &str = "4711";

fn setup(t: &TestDb) {
    for (slug, name) in [
        ("aktuelles", "Aktuelle Informationen"),
        ("kultur", "Kultur!Büro"),
        ("tipps", "Veranstaltungstipps"),
    ] {
        t.app.add_category(slug, name, "test").unwrap();
    }
}

/// Sends `text` from `CHAT` as message `id`, as a channel would.
fn say(t: &TestDb, text: &str, id: &str) -> CommandOutcome {
    let parsed = match Command::parse_detailed(text) {
        Some(p) => p,
        None => herold_channel_api::Parsed {
            command: t.app.category_choice(text).unwrap().expect("a command"),
            language: None,
        },
    };
    t.app
        .resident_command(&ResidentCommand {
            channel: ChannelKind::Telegram,
            address: CHAT,
            command: &parsed.command,
            language: parsed.language,
            message_id: id,
        })
        .unwrap()
}

fn categories_of(t: &TestDb, id: i64) -> Vec<String> {
    let all = t.app.db().list_categories().unwrap();
    t.app
        .db()
        .subscriptions_of(id)
        .unwrap()
        .into_iter()
        .filter_map(|s| all.iter().find(|c| c.id == s.category_id))
        .map(|c| c.slug.to_string())
        .collect()
}

both!(start_subscribes_with_evidence_and_welcomes, |t: &TestDb| {
    setup(t);
    let out = say(t, "/start", "m1");
    let id = out.subscriber_id.unwrap();
    assert_eq!(out.locale, "de");
    assert!(out.reply.contains("Willkommen"), "{}", out.reply);
    assert!(
        out.reply.contains("1. Aktuelle Informationen ✓"),
        "{}",
        out.reply
    );
    assert!(out.reply.contains("STOP") && out.reply.contains("LÖSCHEN"));
    assert!(out.reply.contains("Informationsdienst"));
    assert_eq!(categories_of(t, id), ["aktuelles", "kultur", "tipps"]);
    let s = t.app.db().get_subscriber(id).unwrap();
    assert_eq!(s.status, SubscriberStatus::Active);
    let ledger = t.app.db().consent_events_of(id).unwrap();
    assert!(ledger.iter().any(|e| e.kind == ConsentKind::Given
        && e.evidence.as_deref() == Some("message:m1")
        && e.wording_version == CONSENT_WORDING_VERSION));
    // Start again changes nothing and says so.
    let again = say(t, "Anmelden", "m2");
    assert!(
        again.reply.contains("bereits angemeldet"),
        "{}",
        again.reply
    );
});

both!(categories_by_number_and_name, |t: &TestDb| {
    setup(t);
    let id = say(t, "Start Kultur!Büro", "m1").subscriber_id.unwrap();
    assert_eq!(categories_of(t, id), ["kultur"]);
    let list = say(t, "Kategorien", "m2");
    assert!(list.reply.contains("2. Kultur!Büro ✓"), "{}", list.reply);
    assert!(
        list.reply.contains("1. Aktuelle Informationen\n"),
        "{}",
        list.reply
    );
    let chosen = say(t, "1, 3", "m3");
    assert!(
        chosen
            .reply
            .contains("Aktuelle Informationen, Veranstaltungstipps"),
        "{}",
        chosen.reply
    );
    assert_eq!(categories_of(t, id), ["aktuelles", "tipps"]);
    // A category's name alone is a choice too, accents and case ignored.
    let by_name = say(t, "veranstaltungstipps", "m4");
    assert_eq!(by_name.subscriber_id, Some(id));
    assert_eq!(categories_of(t, id), ["tipps"]);
    // Ordinary text is not.
    assert!(t
        .app
        .category_choice("Die Straße ist kaputt")
        .unwrap()
        .is_none());
    // Unknown ones get the real list, and nothing changes.
    let unknown = say(t, "Start Sport", "m5");
    assert!(
        unknown.reply.contains("„sport“ gibt es nicht"),
        "{}",
        unknown.reply
    );
    assert!(unknown.reply.contains("3. Veranstaltungstipps"));
    let unknown = say(t, "7", "m6");
    assert!(unknown.reply.contains("„7“"), "{}", unknown.reply);
    assert_eq!(categories_of(t, id), ["tipps"]);
    // Every change is in the ledger with its message.
    let evidence: Vec<String> = t
        .app
        .db()
        .consent_events_of(id)
        .unwrap()
        .into_iter()
        .filter_map(|e| e.evidence)
        .collect();
    for m in ["message:m1", "message:m3", "message:m4"] {
        assert!(evidence.iter().any(|e| e == m), "{m} in {evidence:?}");
    }
    assert!(!evidence
        .iter()
        .any(|e| e == "message:m5" || e == "message:m6"));
});

both!(stop_some_then_all_and_start_again, |t: &TestDb| {
    setup(t);
    let id = say(t, "start", "m1").subscriber_id.unwrap();
    let some = say(t, "Abmelden Kultur!Büro", "m2");
    assert!(some.ends_delivery);
    assert!(
        some.reply
            .contains("keine Bekanntmachungen mehr zu: Kultur!Büro"),
        "{}",
        some.reply
    );
    assert_eq!(categories_of(t, id), ["aktuelles", "tipps"]);
    let all = say(t, "STOP", "m3");
    assert!(all.ends_delivery);
    assert!(all.reply.contains("abgemeldet"), "{}", all.reply);
    let s = t.app.db().get_subscriber(id).unwrap();
    assert_eq!(s.status, SubscriberStatus::Unsubscribed);
    let ledger = t.app.db().consent_events_of(id).unwrap();
    assert!(ledger
        .iter()
        .any(|e| e.kind == ConsentKind::Withdrawn && e.evidence.as_deref() == Some("message:m3")));
    // Stop when not subscribed: a reply, nothing else.
    let again = say(t, "stop", "m4");
    assert!(again.reply.contains("nicht angemeldet"), "{}", again.reply);
    // Start brings them back, with a new consent.
    let back = say(t, "start 1", "m5");
    assert_eq!(back.subscriber_id, Some(id));
    assert!(back.reply.contains("Willkommen"));
    assert_eq!(categories_of(t, id), ["aktuelles"]);
    assert_eq!(
        t.app.db().get_subscriber(id).unwrap().status,
        SubscriberStatus::Active
    );
});

both!(language_follows_the_keywords, |t: &TestDb| {
    setup(t);
    let id = say(t, "subscribe", "m1").subscriber_id.unwrap();
    let help = say(t, "start", "m2");
    assert_eq!(
        help.locale, "en",
        "start is neutral: the stored language is kept"
    );
    assert!(help.reply.contains("already subscribed"), "{}", help.reply);
    let help = say(t, "HELP", "m3");
    assert!(
        help.reply.contains("110") && help.reply.contains("DELETE"),
        "{}",
        help.reply
    );
    let hilfe = say(t, "Hilfe", "m4");
    assert_eq!(hilfe.locale, "de");
    assert!(hilfe.reply.contains("In Notfällen: 110"), "{}", hilfe.reply);
    assert_eq!(t.app.db().get_subscriber(id).unwrap().locale, "de");
});

both!(delete_answers_first_then_erases, |t: &TestDb| {
    setup(t);
    let id = say(t, "start", "m1").subscriber_id.unwrap();
    let out = say(t, "Löschen", "m2");
    assert!(out.ends_delivery);
    assert_eq!(out.erase_after_reply, Some(id));
    assert!(out.reply.contains("gelöscht"), "{}", out.reply);
    // Until the reply went out the address is still there, but nothing more
    // is delivered.
    assert_eq!(
        t.app.db().get_subscriber(id).unwrap().status,
        SubscriberStatus::Unsubscribed
    );
    t.app.erase_after_reply(id).unwrap();
    assert!(t
        .app
        .db()
        .find_subscriber_by_address(ChannelKind::Telegram, CHAT)
        .unwrap()
        .is_none());
    assert_eq!(t.app.db().subscriber_address(id).unwrap(), None);
    let ledger = t.app.db().consent_ledger(0, 1000).unwrap();
    assert!(ledger.iter().any(|e| e.kind == ConsentKind::Erased));
    // Löschen from someone unknown: nothing stored, nothing created.
    let nobody = say(t, "delete", "m3");
    assert_eq!(nobody.subscriber_id, None);
    assert!(
        nobody.reply.contains("Nothing is stored"),
        "{}",
        nobody.reply
    );
});

/// A Telegram-like adapter that records what it is asked to send.
struct Chat {
    caps: herold_channel_api::Capabilities,
    sent: std::sync::Mutex<Vec<(String, String)>>,
    /// Addresses the core asked to forget (after an erasure).
    forgotten: std::sync::Mutex<Vec<String>>,
}

impl Chat {
    fn new() -> std::sync::Arc<Self> {
        use herold_channel_api::{Capabilities, Formatting, RateLimit, Reach};
        std::sync::Arc::new(Self {
            caps: Capabilities {
                reach: Reach::Push,
                max_text_chars: Some(4096),
                max_subject_chars: None,
                formatting: Formatting::TelegramHtml,
                outbound_media: vec![],
                inbound_media: vec![],
                default_rate: RateLimit::new(30.0, 30),
                per_recipient_rate: Some(RateLimit::new(1.0, 1)),
                inbound: true,
                delivery_receipts: false,
                read_receipts: false,
                idempotent_sends: false,
                unsubscribe_links: false,
            },
            sent: std::sync::Mutex::new(Vec::new()),
            forgotten: std::sync::Mutex::new(Vec::new()),
        })
    }

    fn sent(&self) -> Vec<(String, String)> {
        self.sent.lock().unwrap().clone()
    }
}

#[herold_channel_api::async_trait]
impl herold_channel_api::Channel for Chat {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Telegram
    }

    async fn forget(
        &self,
        address: &herold_channel_api::Address,
    ) -> Result<(), herold_channel_api::SendError> {
        self.forgotten
            .lock()
            .unwrap()
            .push(address.as_str().to_owned());
        Ok(())
    }

    fn capabilities(&self) -> &herold_channel_api::Capabilities {
        &self.caps
    }

    async fn send(
        &self,
        msg: &herold_channel_api::OutboundMessage,
    ) -> Result<herold_channel_api::Receipt, herold_channel_api::SendError> {
        let herold_channel_api::Destination::Recipient(to) = &msg.destination else {
            return Err(herold_channel_api::SendError::permanent("recipients only"));
        };
        let mut sent = self.sent.lock().unwrap();
        sent.push((to.as_str().to_owned(), msg.message.text.clone()));
        Ok(herold_channel_api::Receipt::now(Some(format!(
            "tg-{}",
            sent.len()
        ))))
    }
}

/// Replies go out through the engine's reply loop of the channel: to the
/// chat that wrote, escaped for the channel, and Löschen erases once its
/// answer is out; nothing of the text or address stays in the outbox.
fn replies_through_the_engine(t: &TestDb) {
    setup(t);
    t.app
        .add_category("bau", "Bau <& Verkehr>", "test")
        .unwrap();
    let chat = Chat::new();
    let engine = herold::app::App::assemble(
        t.app.clone(),
        herold::registry::Registry::from_channels(vec![
            chat.clone() as std::sync::Arc<dyn herold_channel_api::Channel>
        ]),
    )
    .unwrap()
    .engine();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let running = rt.spawn(engine.run(stopped));
    let answer = |text: &str, id: &str, from: &str| {
        let parsed = Command::parse_detailed(text).unwrap();
        t.app
            .answer_command(&ResidentCommand {
                channel: ChannelKind::Telegram,
                address: from,
                command: &parsed.command,
                language: parsed.language,
                message_id: id,
            })
            .unwrap()
    };
    let wait_for = |n: usize| {
        common::wait_until("replies sent", std::time::Duration::from_secs(15), || {
            chat.sent().len() >= n
        })
    };
    let id = answer("/start", "m1", CHAT).subscriber_id.unwrap();
    wait_for(1);
    let (to, text) = chat.sent()[0].clone();
    assert_eq!(to, CHAT);
    assert!(text.contains("Willkommen"), "{text}");
    // Telegram HTML: the category name's markup characters are escaped.
    assert!(text.contains("Bau &lt;&amp; Verkehr&gt;"), "{text}");
    // Someone who never subscribed gets help, and nothing is kept.
    answer("help", "x1", "999");
    wait_for(2);
    assert_eq!(chat.sent()[1].0, "999");
    assert!(t
        .app
        .db()
        .find_subscriber_by_address(ChannelKind::Telegram, "999")
        .unwrap()
        .is_none());
    // Löschen: the answer reaches the chat first, then the data goes.
    answer("Löschen", "m2", CHAT);
    wait_for(3);
    assert_eq!(chat.sent()[2].0, CHAT);
    assert!(chat.sent()[2].1.contains("gelöscht"));
    common::wait_until("erased", std::time::Duration::from_secs(10), || {
        t.app.db().subscriber_address(id).unwrap().is_none()
    });
    // Then the adapter was asked to drop what the provider side keeps.
    common::wait_until("forgotten", std::time::Duration::from_secs(10), || {
        chat.forgotten.lock().unwrap().as_slice() == [CHAT.to_owned()]
    });
    assert_eq!(t.app.db().outbox_pending(ChannelKind::Telegram).unwrap(), 0);
    stop.send(true).unwrap();
    rt.block_on(running).unwrap().unwrap();
}

fn telegram_db(backend: common::Backend) -> TestDb {
    TestDb::with_config(backend, |c| {
        c.delivery.channels = vec![ChannelKind::Telegram];
        c.delivery.poll_interval_ms = 20;
    })
}

#[test]
fn replies_go_out_through_the_engine_on_sqlite() {
    replies_through_the_engine(&telegram_db(common::Backend::Sqlite));
}

#[test]
fn replies_go_out_through_the_engine_on_postgres() {
    replies_through_the_engine(&telegram_db(common::Backend::Postgres));
}

both!(
    closed_conversations_are_deleted_after_retention,
    |t: &TestDb| {
        setup(t);
        t.app
            .resident_message(ChannelKind::Telegram, CHAT, "Die Laterne ist kaputt.", "r1")
            .unwrap();
        t.app
            .resident_message(ChannelKind::Telegram, CHAT, "Immer noch.", "r2")
            .unwrap();
        // The same message processed again is stored once.
        t.app
            .resident_message(ChannelKind::Telegram, CHAT, "Immer noch.", "r2")
            .unwrap();
        let open = t.app.inbox(false, 10).unwrap();
        assert_eq!(open.len(), 1);
        let id = open[0].conversation.id;
        let view = t.app.conversation(id).unwrap();
        assert_eq!(view.messages.len(), 2);
        assert_eq!(
            view.messages[0].text.as_deref(),
            Some("Die Laterne ist kaputt.")
        );
        // An open case is never purged, however old.
        let later = chrono::Utc::now() + chrono::Duration::days(365);
        assert_eq!(t.app.db().purge_closed_conversations(later).unwrap(), 0);
        t.app.close_conversation(id, "test").unwrap();
        // Within the retention time it stays; after it, it goes with its messages.
        assert_eq!(
            t.app
                .db()
                .purge_closed_conversations(chrono::Utc::now() - chrono::Duration::days(30))
                .unwrap(),
            0
        );
        assert_eq!(t.app.db().purge_closed_conversations(later).unwrap(), 1);
        assert!(t.app.inbox(true, 10).unwrap().is_empty());
        assert!(t.app.db().messages_of(id).unwrap().is_empty());
    }
);
