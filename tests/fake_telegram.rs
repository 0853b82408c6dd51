//! Self-tests of the fake Telegram Bot API (`tests/common/fake_telegram.rs`):
//! every limit and refusal it claims to enforce is provoked here, so none of
//! them can silently stop working.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::fake_telegram::{parse_html, ChatKind, ChatState, FakeTelegram};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const TOKEN: &str = "123456789:AAfake-self-test";

struct Api {
    fake: FakeTelegram,
    http: Client,
}

impl Api {
    fn new() -> Self {
        Self {
            fake: FakeTelegram::start(TOKEN),
            http: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    fn call_as(&self, token: &str, method: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/bot{token}/{method}", self.fake.url()))
            .json(&body)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().unwrap())
    }

    fn call(&self, method: &str, body: Value) -> (u16, Value) {
        self.call_as(TOKEN, method, body)
    }

    fn text(&self, chat: Value, text: &str) -> (u16, Value) {
        self.call(
            "sendMessage",
            json!({"chat_id": chat, "text": text, "parse_mode": "HTML"}),
        )
    }
}

fn assert_error(got: (u16, Value), code: u16, description: &str) -> Value {
    assert_eq!(got.0, code, "{}", got.1);
    assert_eq!(got.1["ok"], json!(false));
    assert_eq!(got.1["error_code"], json!(code));
    assert_eq!(got.1["description"], json!(description), "{}", got.1);
    got.1
}

#[test]
fn wrong_token_and_unknown_method() {
    let api = Api::new();
    assert_error(
        api.call_as("123456789:AAwrong", "getMe", json!({})),
        401,
        "Unauthorized",
    );
    assert_error(api.call("sendCarrierPigeon", json!({})), 404, "Not Found");
    let (status, me) = api.call("getMe", json!({}));
    assert_eq!(status, 200);
    assert_eq!(me["result"]["id"], json!(123456789));
    assert_eq!(me["result"]["is_bot"], json!(true));
}

#[test]
fn message_shape_is_checked() {
    let api = Api::new();
    api.fake.add_private_chats([42]);
    assert_error(
        api.call("sendMessage", json!({"text": "x"})),
        400,
        "Bad Request: chat_id is empty",
    );
    assert_error(
        api.text(json!("not-a-chat"), "x"),
        400,
        "Bad Request: chat not found",
    );
    assert_error(
        api.text(json!(42), ""),
        400,
        "Bad Request: message text is empty",
    );
    assert_error(
        api.text(json!(42), &"x".repeat(4097)),
        400,
        "Bad Request: message is too long",
    );
    assert_error(
        api.call(
            "sendMessage",
            json!({"chat_id": 42, "text": "x", "parse_mode": "BBCode"}),
        ),
        400,
        "Bad Request: unsupported parse_mode",
    );
    // 4096 UTF-16 units after parsing: tags and entities do not count, an
    // emoji counts twice.
    let (status, _) = api.text(json!(42), &format!("<b>{}</b>&amp;", "x".repeat(4095)));
    assert_eq!(status, 200);
    api.fake.advance(Duration::from_secs(2));
    assert_error(
        api.text(json!(42), &"😀".repeat(2049)),
        400,
        "Bad Request: message is too long",
    );
    // A chat id as a string of digits is the same chat.
    let (status, sent) = api.text(json!("42"), "Hallo");
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["result"]["chat"]["id"], json!(42));
    assert_eq!(api.fake.sent_to(42).len(), 2);
}

#[test]
fn html_must_be_telegrams() {
    let api = Api::new();
    api.fake.add_private_chats([42]);
    let cases = [
        (
            "<p>Absatz</p>",
            "Unsupported start tag \"p\" at byte offset 0",
        ),
        ("a < b", "Unsupported start tag \"\" at byte offset 2"),
        ("<b>fett", "Can't find end tag corresponding to start tag b"),
        (
            "<b><i>x</b></i>",
            "Unmatched end tag at byte offset 7, expected \"</i>\", found \"</b>\"",
        ),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        (
            "<a href=\"https://x",
            "Unclosed end of attribute value at byte offset 9",
        ),
        (
            "<span>x</span>",
            "Tag \"span\" must have class \"tg-spoiler\" at byte offset 0",
        ),
    ];
    for (html, why) in cases {
        assert_error(
            api.text(json!(42), html),
            400,
            &format!("Bad Request: can't parse entities: {why}"),
        );
    }
    assert!(api.fake.sent().is_empty());
    for html in [
        "<b>fett</b> <i>kursiv</i> <u>u</u> <s>s</s> <code>c</code> <pre>p</pre>",
        "<a href=\"https://example.org/?a=1&amp;b=2\">Link</a> &lt;3 &#x1F600; &#228;",
        "<blockquote>Zitat</blockquote> <tg-spoiler>x</tg-spoiler> AT&T",
    ] {
        let (status, body) = api.text(json!(42), html);
        assert_eq!(status, 200, "{html}: {body}");
        api.fake.advance(Duration::from_secs(2));
    }
    assert_eq!(
        parse_html("&lt;b&gt; &amp;amp; &quot;x&quot; &#228; &foo; AT&T").unwrap(),
        "<b> &amp; \"x\" ä &foo; AT&T"
    );
    // Without parse_mode, markup is plain text.
    let (status, _) = api.call("sendMessage", json!({"chat_id": 42, "text": "<p>"}));
    assert_eq!(status, 200);
}

#[test]
fn photos_and_captions() {
    let api = Api::new();
    api.fake.add_private_chats([42]);
    assert_error(
        api.call("sendPhoto", json!({"chat_id": 42})),
        400,
        "Bad Request: there is no photo in the request",
    );
    assert_error(
        api.call(
            "sendPhoto",
            json!({"chat_id": 42, "photo": "https://x/a.jpg", "caption": "y".repeat(1025)}),
        ),
        400,
        "Bad Request: message caption is too long",
    );
    assert_error(
        api.call(
            "sendPhoto",
            json!({"chat_id": 42, "photo": "https://x/a.jpg", "caption": "<b>x", "parse_mode": "HTML"}),
        ),
        400,
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag b",
    );
    let (status, _) = api.call(
        "sendPhoto",
        json!({"chat_id": 42, "photo": "https://x/a.jpg", "caption": "<b>Titel</b>", "parse_mode": "HTML"}),
    );
    assert_eq!(status, 200);
    let sent = api.fake.sent();
    assert_eq!(sent[0].method, "sendPhoto");
    assert_eq!(sent[0].caption.as_deref(), Some("<b>Titel</b>"));
}

#[test]
fn chats_that_cannot_be_reached() {
    let api = Api::new();
    api.fake.add_private_chats([1, 2, 3]);
    api.fake.set_state(1, ChatState::Blocked);
    api.fake.set_state(2, ChatState::Deactivated);
    api.fake.add_chat(-100, ChatKind::Group, None);
    api.fake
        .set_state(-100, ChatState::Migrated(-1001234567890));
    assert_error(
        api.text(json!(1), "x"),
        403,
        "Forbidden: bot was blocked by the user",
    );
    assert_error(
        api.text(json!(2), "x"),
        403,
        "Forbidden: user is deactivated",
    );
    assert_error(api.text(json!(99), "x"), 400, "Bad Request: chat not found");
    assert_error(
        api.text(json!("@unbekannt"), "x"),
        400,
        "Bad Request: chat not found",
    );
    let migrated = assert_error(
        api.text(json!(-100), "x"),
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
    );
    assert_eq!(
        migrated["parameters"]["migrate_to_chat_id"],
        json!(-1001234567890i64)
    );
    let (status, _) = api.text(json!(3), "x");
    assert_eq!(status, 200);
    assert_eq!(api.fake.sent().len(), 1);
}

#[test]
fn thirty_messages_per_second_overall() {
    let api = Api::new();
    api.fake.add_private_chats(1..=40);
    for chat in 1..=30 {
        let (status, body) = api.text(json!(chat), "x");
        assert_eq!(status, 200, "message {chat}: {body}");
    }
    let refused = assert_error(
        api.text(json!(31), "x"),
        429,
        "Too Many Requests: retry after 1",
    );
    assert_eq!(refused["parameters"]["retry_after"], json!(1));
    assert_eq!(api.fake.throttled(), 1);
    assert_eq!(api.fake.throttled_by("second"), 1);
    api.fake.advance(Duration::from_millis(1001));
    let (status, _) = api.text(json!(31), "x");
    assert_eq!(status, 200);
    assert_eq!(api.fake.sent().len(), 31);
}

#[test]
fn one_message_per_second_to_a_chat() {
    let api = Api::new();
    api.fake.add_private_chats([7]);
    assert_eq!(api.text(json!(7), "eins").0, 200);
    assert_error(
        api.text(json!(7), "zwei"),
        429,
        "Too Many Requests: retry after 1",
    );
    assert_eq!(api.fake.throttled_by("chat"), 1);
    api.fake.advance(Duration::from_millis(1000));
    assert_eq!(api.text(json!(7), "zwei").0, 200);
}

#[test]
fn twenty_messages_per_minute_to_a_group_or_channel() {
    let api = Api::new();
    api.fake.add_chat(-555, ChatKind::Group, None);
    api.fake
        .add_chat(-1009, ChatKind::Channel, Some("musterstadt_info"));
    for target in [json!(-555), json!("@musterstadt_info")] {
        for n in 0..20 {
            let (status, body) = api.text(target.clone(), "x");
            assert_eq!(status, 200, "{target} message {n}: {body}");
            api.fake.advance(Duration::from_millis(1500));
        }
        // 20 sent over 28.5 s: the 21st waits until the first is a minute old.
        let refused = assert_error(
            api.text(target.clone(), "x"),
            429,
            "Too Many Requests: retry after 30",
        );
        assert_eq!(refused["parameters"]["retry_after"], json!(30));
        api.fake.advance(Duration::from_secs(30));
        assert_eq!(api.text(target, "x").0, 200);
    }
    assert_eq!(api.fake.sent_to(-1009).len(), 21);
    assert_eq!(api.fake.throttled_by("group"), 2);
}

#[test]
fn updates_are_long_polled_and_confirmed_by_offset() {
    let api = Api::new();
    // Nothing queued: the poll waits for its timeout.
    let t = Instant::now();
    let (status, empty) = api.call("getUpdates", json!({"timeout": 1}));
    assert_eq!(status, 200);
    assert_eq!(empty["result"], json!([]));
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );

    let first = api.fake.push_text(4711, "/start");
    let second = api.fake.push_text(4711, "Hilfe");
    let (_, got) = api.call(
        "getUpdates",
        json!({"timeout": 5, "allowed_updates": ["message"]}),
    );
    let ids: Vec<i64> = got["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["update_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![first, second]);
    assert_eq!(got["result"][0]["message"]["text"], json!("/start"));
    // Not confirmed yet: the same updates again.
    let (_, again) = api.call("getUpdates", json!({"offset": first, "timeout": 0}));
    assert_eq!(again["result"].as_array().unwrap().len(), 2);
    // offset = last + 1 confirms both.
    let (_, none) = api.call("getUpdates", json!({"offset": second + 1, "timeout": 0}));
    assert_eq!(none["result"], json!([]));
    assert_eq!(api.fake.pending_updates(), 0);

    // A message arriving during a long poll ends it at once.
    let fake_url = api.fake.url().to_owned();
    let waiter = std::thread::spawn(move || {
        let t = Instant::now();
        let body: Value = Client::new()
            .post(format!("{fake_url}/bot{TOKEN}/getUpdates"))
            .json(&json!({"offset": second + 1, "timeout": 20}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        (t.elapsed(), body)
    });
    std::thread::sleep(Duration::from_millis(300));
    let third = api.fake.push_text(4711, "Kategorien");
    let (waited, body) = waiter.join().unwrap();
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!(body["result"][0]["update_id"], json!(third));

    // Kinds not allowed are dropped.
    api.fake
        .push_update(json!({"edited_message": {"message_id": 9, "date": 0, "chat": {"id": 4711}}}));
    let (_, got) = api.call(
        "getUpdates",
        json!({"offset": third + 1, "timeout": 0, "allowed_updates": ["message"]}),
    );
    assert_eq!(got["result"], json!([]));
}

#[test]
fn get_updates_conflicts_with_a_webhook_and_a_second_poller() {
    let api = Api::new();
    api.fake
        .set_webhook("https://example.org/webhooks/telegram");
    assert_error(
        api.call("getUpdates", json!({})),
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
    );
    let (_, info) = api.call("getWebhookInfo", json!({}));
    assert_eq!(
        info["result"]["url"],
        json!("https://example.org/webhooks/telegram")
    );
    let (_, deleted) = api.call("deleteWebhook", json!({}));
    assert_eq!(deleted["description"], json!("Webhook was deleted"));
    let (_, again) = api.call("deleteWebhook", json!({}));
    assert_eq!(again["description"], json!("Webhook is already deleted"));
    assert_eq!(api.fake.webhook(), None);

    // A second poller overtakes the first, which hears 409.
    let fake_url = api.fake.url().to_owned();
    let first = std::thread::spawn(move || {
        let r = Client::new()
            .post(format!("{fake_url}/bot{TOKEN}/getUpdates"))
            .json(&json!({"timeout": 10}))
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    });
    std::thread::sleep(Duration::from_millis(300));
    let (status, _) = api.call("getUpdates", json!({"timeout": 1}));
    assert_eq!(status, 200);
    assert_error(
        first.join().unwrap(),
        409,
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    );
    assert_eq!(api.fake.max_concurrent_polls(), 2);

    // setWebhook wants https.
    assert_error(
        api.call("setWebhook", json!({"url": "http://example.org/hook"})),
        400,
        "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
    );
    let (status, set) = api.call(
        "setWebhook",
        json!({"url": "https://example.org/hook", "secret_token": "abc", "allowed_updates": ["message"]}),
    );
    assert_eq!(status, 200);
    assert_eq!(set["description"], json!("Webhook was set"));
}

#[test]
fn files_are_served_with_the_token() {
    let api = Api::new();
    api.fake.add_file(
        "AgACph0t0",
        "photos/file_1.jpg",
        b"\xff\xd8\xff\xe0jpeg".to_vec(),
    );
    let (status, file) = api.call("getFile", json!({"file_id": "AgACph0t0"}));
    assert_eq!(status, 200);
    assert_eq!(file["result"]["file_path"], json!("photos/file_1.jpg"));
    assert_eq!(file["result"]["file_size"], json!(8));
    assert_error(
        api.call("getFile", json!({"file_id": "nope"})),
        400,
        "Bad Request: invalid file_id",
    );
    let get = |token: &str| {
        api.http
            .get(format!(
                "{}/file/bot{token}/photos/file_1.jpg",
                api.fake.url()
            ))
            .send()
            .unwrap()
    };
    let ok = get(TOKEN);
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(ok.bytes().unwrap().as_ref(), b"\xff\xd8\xff\xe0jpeg");
    assert_eq!(get("1:wrong").status().as_u16(), 401);
}
