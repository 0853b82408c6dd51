//! Residents on WhatsApp, end to end: `herold serve` with its signed
//! webhook, the real WhatsApp adapter and engine, and the fake Cloud API of
//! `tests/common/fake_whatsapp.rs` (Meta's request shapes, error bodies,
//! pair rate and 24-hour window, signed status webhooks) — on SQLite and
//! PostgreSQL.
//!
//! Anna starts, picks a topic and gets an announcement as free text;
//! Bernd, who last wrote more than 24 hours ago, gets the approved
//! template, and an urgent warning too; statuses move deliveries forward
//! only; forged, unsigned and malformed webhooks are refused with nothing
//! stored; the pair rate makes the next message wait; an expired token
//! holds the channel until `herold channels resume`, losing nothing; a
//! voice note is refused; a photo opens a case and is stored without its
//! metadata; after Stop nothing more comes; after Löschen the number is
//! nowhere in the database.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{
    fake_whatsapp::{FakeWhatsApp, Sent},
    server::{pillow, Server},
};
use herold::domain::{DeliveryState, SubscriberStatus};
use serde_json::{json, Value};
use std::{path::Path, time::Duration};

const PHONE_ID: &str = "109876543210";
const TOKEN: &str = "EAAe2e-whatsapp-token";
const APP_SECRET: &str = "e2e-app-secret";
const VERIFY: &str = "e2e-verify-token";
/// Distinctive digits, so a search of the database files cannot hit them
/// by chance.
const ANNA: &str = "4915792837465";
const BERND: &str = "4917638291046";
const WAIT: Duration = Duration::from_secs(40);

fn fixture() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/media/gps.jpg"))
        .unwrap()
}

fn texts(sent: &[Sent]) -> Vec<String> {
    sent.iter().map(|m| m.text.clone()).collect()
}

/// Sets the timestamp of the (one) message in a webhook payload.
fn written_at(mut payload: Value, unix: i64) -> Value {
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] =
        json!(unix.to_string());
    payload
}

/// The fake Cloud API with two approved templates and a photo, and `herold
/// serve` delivering on WhatsApp through it; the fake's statuses go to
/// Herold's webhook, whose URL is returned too.
fn start(database_url: Option<&str>) -> (FakeWhatsApp, Server, String) {
    let wa = FakeWhatsApp::start(PHONE_ID, TOKEN, APP_SECRET);
    wa.add_template("gemeinde_info", "de", "{{1}}\n\n{{2}}\n\nMehr: {{3}}");
    wa.add_template("gemeinde_warnung", "de", "WARNUNG {{1}}: {{2}}");
    // One second between two messages to the same number (Meta: about
    // six), on both sides, to keep the test short.
    wa.set_pair_spacing(Duration::from_secs(1));
    wa.add_media("media-photo-1", fixture(), "image/jpeg");
    let s = Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["whatsapp"]"#),
            ("HEROLD_WHATSAPP__API_URL", wa.url()),
            ("HEROLD_WHATSAPP__ACCESS_TOKEN", TOKEN),
            ("HEROLD_WHATSAPP__PHONE_NUMBER_ID", PHONE_ID),
            ("HEROLD_WHATSAPP__APP_SECRET", APP_SECRET),
            ("HEROLD_WHATSAPP__VERIFY_TOKEN", VERIFY),
            ("HEROLD_WHATSAPP__PAIR_SPACING_SECONDS", "1"),
            (
                "HEROLD_WHATSAPP__TEMPLATES__BROADCAST__NAME",
                "gemeinde_info",
            ),
            (
                "HEROLD_WHATSAPP__TEMPLATES__URGENT__NAME",
                "gemeinde_warnung",
            ),
            (
                "HEROLD_WHATSAPP__TEMPLATES__URGENT__PARAMETERS",
                r#"["title", "summary"]"#,
            ),
            ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
            ("HEROLD_DELIVERY__BACKOFF_BASE_MS", "200"),
            ("HEROLD_INBOUND__POLL_INTERVAL_MS", "20"),
        ],
    );
    let hook = s.url("/webhooks/whatsapp");
    wa.set_webhook(&hook);
    (wa, s, hook)
}

fn residents_on_whatsapp(database_url: Option<&str>) {
    let (wa, s, hook) = start(database_url);
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    s.cli(&["category", "add", "kultur", "--name", "Kultur"]);
    let app = s.open_database(database_url);

    // Meta's verification handshake: the challenge only with the token.
    let http = reqwest::blocking::Client::new();
    let handshake = |token: &str| {
        let r = http
            .get(format!(
                "{hook}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=8315"
            ))
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    assert_eq!(handshake(VERIFY), (200, "8315".to_owned()));
    assert_eq!(handshake("wrong").0, 403);

    // Forged, unsigned and malformed requests: refused, nothing stored.
    let start = wa.text_message(ANNA, "Start");
    let body = serde_json::to_vec(&start).unwrap();
    assert_eq!(wa.post_signed_with(&hook, &body, None), 401);
    let forged = format!("sha256={}", "0".repeat(64));
    assert_eq!(wa.post_signed_with(&hook, &body, Some(&forged)), 401);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    assert_eq!(
        wa.post_signed_with(&hook, &tampered, Some(&wa.sign(&body))),
        401
    );
    let junk = b"{\"object\": \"whatsapp_business_account\", \"entry\": [";
    assert_eq!(wa.post_signed_with(&hook, junk, Some(&wa.sign(junk))), 400);
    assert!(app.db().inbound_states().unwrap().is_empty());

    let post = |payload: &Value| assert_eq!(wa.post(&hook, payload), 200);
    let wait_for = |to: &str, n: usize| -> Vec<Sent> {
        common::poll_until(WAIT, || {
            let got = wa.sent_to(to);
            if got.len() >= n {
                Ok(got)
            } else {
                Err(format!(
                    "{} of {n} messages reached {to}: {:?}\n{}",
                    got.len(),
                    texts(&got),
                    s.log()
                ))
            }
        })
    };

    // Start (the same request twice counts once), the topics, a choice.
    post(&start);
    post(&start);
    let got = wait_for(ANNA, 1);
    assert!(got[0].text.contains("Willkommen"), "{}", got[0].text);
    assert_eq!(got[0].kind, "text");
    post(&wa.text_message(ANNA, "Kategorien"));
    post(&wa.text_message(ANNA, "1"));
    let got = wait_for(ANNA, 3);
    assert!(
        got[2].text.contains("Ihre Themen: Abfall"),
        "{}",
        got[2].text
    );
    // Replies to one number keep the pair spacing.
    assert!(
        got[2].at - got[1].at >= Duration::from_millis(900),
        "{got:?}"
    );

    // Bernd subscribed long ago and has not written for 25 hours.
    let now = chrono::Utc::now().timestamp();
    post(&written_at(
        wa.text_message(BERND, "Start Abfall"),
        now - 25 * 3600,
    ));
    wait_for(BERND, 1);
    wa.close_window(BERND);

    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne & Gelber Sack",
        "--body",
        "Abholung am **Samstag** statt Freitag.\n\nBitte bis 7 Uhr bereitstellen.",
    ]);
    // Anna, inside the window: free text in WhatsApp markup.
    let got = wait_for(ANNA, 4);
    let announcement = &got[3];
    assert_eq!(announcement.kind, "text", "{announcement:?}");
    assert!(
        announcement.text.starts_with("*Biotonne & Gelber Sack*"),
        "{}",
        announcement.text
    );
    assert!(
        announcement.text.contains("*Samstag*"),
        "{}",
        announcement.text
    );
    // Bernd, outside it: the template, its parameters on one line each.
    let got = wait_for(BERND, 2);
    let template = &got[1];
    assert_eq!(template.kind, "template", "{template:?}");
    assert_eq!(
        template.template,
        Some(("gemeinde_info".to_owned(), "de".to_owned()))
    );
    assert_eq!(template.params[0], "Biotonne & Gelber Sack");
    assert_eq!(
        template.params[1],
        "Abholung am Samstag statt Freitag. Bitte bis 7 Uhr bereitstellen."
    );
    assert!(
        template.params[2].starts_with("http"),
        "{:?}",
        template.params
    );

    // Statuses: the fake reported sent and delivered; read comes later; a
    // late `sent` after `read` changes nothing.
    let delivery_of = |wamid: &str| {
        app.db()
            .delivery_by_provider_id(herold_channel_api::ChannelKind::WhatsApp, wamid)
            .unwrap()
            .unwrap()
    };
    common::poll_until(WAIT, || match delivery_of(&announcement.id).state {
        DeliveryState::Delivered => Ok(()),
        other => Err(format!("{other:?}")),
    });
    wa.read(&announcement.id);
    common::poll_until(WAIT, || match delivery_of(&announcement.id).state {
        DeliveryState::Read => Ok(()),
        other => Err(format!("{other:?}")),
    });
    wa.push_status(&announcement.id, "sent", None);
    wa.flush_webhooks(WAIT);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(delivery_of(&announcement.id).state, DeliveryState::Read);

    // An urgent warning reaches Bernd at once, as the urgent template.
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--urgent",
        "--title",
        "Hochwasser",
        "--body",
        "Keller räumen.",
    ]);
    let got = wait_for(BERND, 3);
    assert_eq!(
        got[2].template.as_ref().map(|t| t.0.as_str()),
        Some("gemeinde_warnung"),
        "{:?}",
        got[2]
    );
    assert!(
        got[2].params[0].contains("Hochwasser"),
        "{:?}",
        got[2].params
    );
    let got = wait_for(ANNA, 5);
    assert!(got[4].text.contains("Hochwasser"), "{}", got[4].text);

    // Pair rate: Meta refuses the next message to Anna with 131056; it
    // waits and goes out.
    wa.fail_next(ANNA, 131056);
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Wertstoffhof",
        "--body",
        "Samstag geöffnet.",
    ]);
    let got = wait_for(ANNA, 6);
    assert!(got[5].text.contains("Wertstoffhof"), "{}", got[5].text);
    assert_eq!(wa.refused(131056), 1);

    // An expired token holds the channel; nothing is lost, and after
    // `channels resume` the announcement goes out.
    wa.expire_token();
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Glascontainer",
        "--body",
        "Neuer Standort.",
    ]);
    common::poll_until(WAIT, || {
        if s.log().contains("channel held") {
            Ok(())
        } else {
            Err(s.log())
        }
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(wa.sent_to(ANNA).len(), 6);
    wa.restore_token();
    s.cli(&["channels", "resume", "whatsapp"]);
    let got = wait_for(ANNA, 7);
    assert!(got[6].text.contains("Glascontainer"), "{}", got[6].text);
    wait_for(BERND, 5);

    // A voice note: refused politely.
    post(&wa.message(
        ANNA,
        "audio",
        json!({"id": "audio-1", "mime_type": "audio/ogg; codecs=opus", "voice": true}),
    ));
    let got = wait_for(ANNA, 8);
    assert!(
        got[7].text.contains("nur Text und Fotos"),
        "{}",
        got[7].text
    );

    // A photo opens a case; it is stored without its GPS data, same pixels.
    post(&wa.image_message(ANNA, "media-photo-1", Some("Schlagloch vor Nr. 17")));
    let got = wait_for(ANNA, 9);
    assert!(got[8].text.contains("Vorgang"), "{}", got[8].text);
    let inbox = common::poll_until(WAIT, || {
        let list = s.cli(&["inbox", "list"]);
        if list.contains("no open conversations") {
            Err(list)
        } else {
            Ok(list)
        }
    });
    assert!(!inbox.contains(ANNA), "{inbox}");
    let case: i64 = inbox.split_whitespace().next().unwrap().parse().unwrap();
    let photo = app.db().photos_of(case).unwrap().pop().expect("a photo");
    let out = s.dir.path().join("photo.jpg");
    s.cli(&[
        "inbox",
        "photo",
        &photo.id.to_string(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let original = pillow(&fixture());
    let stored = pillow(&std::fs::read(&out).unwrap());
    assert!(original["gps_tags"].as_u64().unwrap() > 0);
    assert_eq!(stored["gps_tags"], 0, "{stored}");
    assert_eq!(stored["exif_tags"], 0, "{stored}");
    assert_eq!(stored["pixels"], original["pixels"]);

    // Her data, exported by staff (Art. 15/20): the number, her topic,
    // consent, the announcements she got, her report with the photo's
    // metadata; the same by pseudonym; the export is audited.
    let exported: Value = serde_json::from_str(&s.cli(&[
        "subscribers",
        "export",
        "--channel",
        "whatsapp",
        "--address",
        &format!("+{ANNA}"),
    ]))
    .unwrap();
    assert_eq!(exported["subscription"]["address"], format!("+{ANNA}"));
    assert_eq!(exported["subscription"]["status"], "active");
    assert!(exported["subscription"]["last_wrote_at"].is_string());
    assert_eq!(exported["topics"][0]["slug"], "abfall");
    assert_eq!(exported["consent"][0]["kind"], "given");
    let titles: Vec<&str> = exported["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["title"].as_str().unwrap())
        .collect();
    assert!(titles.contains(&"Biotonne & Gelber Sack"), "{titles:?}");
    let messages = exported["conversations"][0]["messages"].as_array().unwrap();
    let report = messages
        .iter()
        .find(|m| m["text"] == "Schlagloch vor Nr. 17")
        .expect("her report");
    assert_eq!(report["direction"], "in");
    assert_eq!(report["photos"][0]["mime_type"], "image/jpeg");
    let pseudonym = exported["subscription"]["pseudonym"].as_str().unwrap();
    let by_pseudonym: Value =
        serde_json::from_str(&s.cli(&["subscribers", "export", "--pseudonym", pseudonym])).unwrap();
    assert_eq!(by_pseudonym["subscription"], exported["subscription"]);
    let audit = s.cli(&["reports", "audit", "--action", "subscriber.export"]);
    assert_eq!(audit.lines().count(), 2, "{audit}");
    assert!(!audit.contains(ANNA), "{audit}");

    // Stop: confirmed; the next announcement does not reach her.
    post(&wa.text_message(ANNA, "Stop"));
    let got = wait_for(ANNA, 10);
    assert!(got[9].text.contains("abgemeldet"), "{}", got[9].text);
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Sperrmüll",
        "--body",
        "Anmeldung bis Montag.",
    ]);
    wait_for(BERND, 6);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(wa.sent_to(ANNA).len(), 10);

    // Löschen: answered (Bernd wrote just now, so free text), then the
    // number is gone from the database.
    post(&wa.text_message(BERND, "Löschen"));
    let got = wait_for(BERND, 7);
    assert!(got[6].text.contains("gelöscht"), "{}", got[6].text);
    common::poll_until(WAIT, || {
        match app
            .db()
            .find_subscriber_by_address(
                herold_channel_api::ChannelKind::WhatsApp,
                &format!("+{BERND}"),
            )
            .unwrap()
        {
            None => Ok(()),
            Some(s) => Err(format!("still there: {:?}", s.status)),
        }
    });
    drop(app);
    common::assert_nowhere_in_database(s.dir.path(), database_url, &[BERND], "Abfall");
    // Within Meta's throughput; no webhook of the fake was refused.
    assert_eq!(wa.refused(130429), 0);
    assert_eq!(wa.webhook_failures(), 0);
    // Neither number nor anything written is in the log.
    s.assert_log_private(&[ANNA, BERND, "Schlagloch vor Nr", "Anmeldung bis Montag"]);
}

#[test]
fn residents_on_whatsapp_on_sqlite() {
    residents_on_whatsapp(None);
}

#[test]
fn residents_on_whatsapp_on_postgres() {
    let pg = common::PgDatabase::create();
    residents_on_whatsapp(Some(&pg.url));
}

/// Failures Meta reports only later, in a `failed` status after `sent`, go
/// through the same mapping as a refused send: a closed window sends the
/// template instead, 131050 withdraws the subscription with the reason,
/// 131049 gives up without retrying, 131056 tries again after the pair
/// spacing.
fn late_failures(database_url: Option<&str>) {
    let (wa, s, hook) = start(database_url);
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    let app = s.open_database(database_url);
    const CARLA: &str = "4915211110001";
    const DORA: &str = "4915211110002";
    const EMIL: &str = "4915211110003";
    const FRANZ: &str = "4915211110004";
    let all = [CARLA, DORA, EMIL, FRANZ];
    for who in all {
        assert_eq!(wa.post(&hook, &wa.text_message(who, "Start Abfall")), 200);
    }
    for who in all {
        common::poll_until(WAIT, || match wa.sent_to(who).len() {
            0 => Err(format!("no welcome for {who}\n{}", s.log())),
            _ => Ok(()),
        });
    }
    wa.fail_late(CARLA, 131047);
    wa.fail_late(DORA, 131050);
    wa.fail_late(EMIL, 131049);
    wa.fail_late(FRANZ, 131056);
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Laubsammlung",
        "--body",
        "Ab Montag.",
    ]);
    // Carla: the free text failed late as outside the window; the template
    // followed.
    let carla = common::poll_until(WAIT, || {
        let got = wa.sent_to(CARLA);
        match got.last() {
            Some(m) if m.kind == "template" => Ok(got),
            _ => Err(format!("{:?}\n{}", texts(&got), s.log())),
        }
    });
    assert_eq!(carla.len(), 3, "welcome, failed text, template: {carla:?}");
    assert_eq!(carla[1].kind, "text");
    assert_eq!(carla[2].params[0], "Laubsammlung");
    // Franz: tried again after the pair spacing, then delivered.
    let franz = common::poll_until(WAIT, || {
        let got = wa.sent_to(FRANZ);
        if got.len() >= 3 {
            Ok(got)
        } else {
            Err(format!("{:?}", texts(&got)))
        }
    });
    assert!(franz[2].text.contains("Laubsammlung"));
    // Dora: withdrawn, Meta's reason in the ledger.
    let dora = common::poll_until(WAIT, || {
        let d = app
            .db()
            .find_subscriber_by_address(
                herold_channel_api::ChannelKind::WhatsApp,
                &format!("+{DORA}"),
            )
            .unwrap()
            .unwrap();
        if d.status == SubscriberStatus::Unsubscribed {
            Ok(d)
        } else {
            Err(format!("Dora is still {:?}", d.status))
        }
    });
    let evidence = app
        .db()
        .consent_events_of(dora.id)
        .unwrap()
        .pop()
        .unwrap()
        .evidence
        .unwrap_or_default();
    assert!(
        evidence.starts_with("provider:recipient-gone") && evidence.contains("131050"),
        "{evidence}"
    );
    // Emil: given up, once.
    let emil = wa.sent_to(EMIL);
    let failed = common::poll_until(WAIT, || {
        let d = app
            .db()
            .delivery_by_provider_id(
                herold_channel_api::ChannelKind::WhatsApp,
                &emil.last().unwrap().id,
            )
            .unwrap()
            .unwrap();
        match d.state {
            DeliveryState::Failed => Ok(d),
            other => Err(format!("{other:?}")),
        }
    });
    assert!(failed.last_error.unwrap_or_default().contains("131049"));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(wa.sent_to(EMIL).len(), 2, "no second try for 131049");
    assert_eq!(wa.sent_to(DORA).len(), 2, "no second try for 131050");
    assert_eq!(wa.sent_to(CARLA).len(), 3);
}

#[test]
fn late_failures_on_sqlite() {
    late_failures(None);
}

#[test]
fn late_failures_on_postgres() {
    let pg = common::PgDatabase::create();
    late_failures(Some(&pg.url));
}
