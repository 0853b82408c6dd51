//! Self-tests of the fake WhatsApp Cloud API (`tests/common/fake_whatsapp.rs`):
//! every limit and refusal it claims to enforce is provoked here, so none of
//! them can silently stop working.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::fake_whatsapp::{FakeWhatsApp, TemplateHeader, ERRORS, ERROR_CODES_HREF, WABA_ID};
use hmac::{Hmac, Mac};
use reqwest::blocking::{Client, Response};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::{
    collections::HashMap,
    io::{Read, Write},
    net::TcpListener,
    sync::{
        atomic::{AtomicU16, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

const PHONE_ID: &str = "106540352242922";
const TOKEN: &str = "EAAGfakeSelfTestToken";
const SECRET: &str = "app-secret-self-test";
const VERSION: &str = "v21.0";
const INVALID_TOKEN: &str = "Invalid OAuth access token - Cannot parse access token";
const WAIT: Duration = Duration::from_secs(10);

struct Api {
    fake: FakeWhatsApp,
    http: Client,
}

impl Api {
    fn new() -> Self {
        Self {
            fake: FakeWhatsApp::start(PHONE_ID, TOKEN, SECRET),
            http: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    fn answer(r: Response) -> (u16, Value) {
        let status = r.status().as_u16();
        (status, r.json().unwrap())
    }

    /// POSTs a raw body to `path` with the bearer `token` (none if `None`).
    fn post_raw(&self, token: Option<&str>, path: &str, body: &str) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.fake.url()))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        Self::answer(request.send().unwrap())
    }

    fn send_as(&self, token: Option<&str>, body: &Value) -> (u16, Value) {
        self.post_raw(
            token,
            &format!("/{VERSION}/{PHONE_ID}/messages"),
            &body.to_string(),
        )
    }

    fn send(&self, body: Value) -> (u16, Value) {
        self.send_as(Some(TOKEN), &body)
    }

    fn text(&self, to: &str, text: &str) -> (u16, Value) {
        self.send(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual",
            "to": to, "type": "text", "text": {"body": text}
        }))
    }

    fn template(&self, to: &str, name: &str, language: &str, params: &[&str]) -> (u16, Value) {
        let parameters: Vec<Value> = params
            .iter()
            .map(|p| json!({"type": "text", "text": p}))
            .collect();
        self.send(json!({
            "messaging_product": "whatsapp", "to": to, "type": "template",
            "template": {
                "name": name, "language": {"code": language},
                "components": [{"type": "body", "parameters": parameters}]
            }
        }))
    }

    fn get(&self, token: Option<&str>, url: &str) -> Response {
        let mut request = self.http.get(url);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        request.send().unwrap()
    }
}

/// Checks a Graph API error answer; returns its `error` object.
fn assert_error(got: (u16, Value), status: u16, code: i64, message: &str) -> Value {
    assert_eq!(got.0, status, "{}", got.1);
    let error = &got.1["error"];
    assert_eq!(error["code"], json!(code), "{}", got.1);
    assert_eq!(error["message"], json!(message), "{}", got.1);
    let trace = error["fbtrace_id"].as_str().unwrap();
    assert!(trace.starts_with('A') && trace.len() > 10, "{trace}");
    error.clone()
}

/// A "(#100) Invalid parameter" answer whose details mention `details`.
fn assert_invalid(got: (u16, Value), details: &str) {
    let error = assert_error(got, 400, 100, "(#100) Invalid parameter");
    assert_eq!(error["type"], json!("OAuthException"));
    assert_eq!(error["error_data"]["messaging_product"], json!("whatsapp"));
    let said = error["error_data"]["details"].as_str().unwrap();
    assert!(
        said.contains(details),
        "{said:?} should mention {details:?}"
    );
}

/// A 400 with `code` and Meta's wording for it; returns the error object.
fn assert_coded(got: (u16, Value), code: i64) -> Value {
    let (title, _) = ERRORS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, t, d)| (*t, *d))
        .unwrap();
    let error = assert_error(got, 400, code, &format!("(#{code}) {title}"));
    assert_eq!(error["type"], json!("OAuthException"));
    assert_eq!(error["error_data"]["messaging_product"], json!("whatsapp"));
    error
}

fn details(error: &Value) -> &str {
    error["error_data"]["details"].as_str().unwrap()
}

fn wamid(answer: &Value) -> String {
    answer["messages"][0]["id"].as_str().unwrap().to_owned()
}

fn expected_signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A webhook post the receiver got.
#[derive(Debug, Clone)]
struct Hook {
    signature: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Hook {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn signed(&self) -> bool {
        self.signature.as_deref() == Some(expected_signature(&self.body).as_str())
    }

    /// The one status it carries.
    fn status(&self) -> Value {
        self.json()["entry"][0]["changes"][0]["value"]["statuses"][0].clone()
    }
}

/// A webhook receiver on loopback (plain `std::net`): answers 401 to posts
/// whose signature is wrong, else `answer` after `delay`.
struct Receiver {
    url: String,
    hooks: Arc<Mutex<Vec<Hook>>>,
    answer: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
}

impl Receiver {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/webhooks/whatsapp",
            listener.local_addr().unwrap()
        );
        let hooks = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(AtomicU16::new(200));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let (h, a, d) = (hooks.clone(), answer.clone(), delay_ms.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(hook) = read_request(&mut stream) else {
                    continue;
                };
                let status = if hook.signed() {
                    a.load(Ordering::SeqCst)
                } else {
                    401
                };
                h.lock().unwrap().push(hook);
                std::thread::sleep(Duration::from_millis(d.load(Ordering::SeqCst)));
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 {status} Whatever\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                    .as_bytes(),
                );
            }
        });
        Self {
            url,
            hooks,
            answer,
            delay_ms,
        }
    }

    fn hooks(&self) -> Vec<Hook> {
        self.hooks.lock().unwrap().clone()
    }

    /// Waits for at least `n` posts; returns them all.
    fn wait_for(&self, n: usize) -> Vec<Hook> {
        let deadline = Instant::now() + WAIT;
        loop {
            let hooks = self.hooks();
            if hooks.len() >= n {
                return hooks;
            }
            assert!(Instant::now() < deadline, "{} of {n} webhooks", hooks.len());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The statuses received for `message_id`, in order.
    fn statuses_of(&self, message_id: &str) -> Vec<Value> {
        self.hooks()
            .iter()
            .map(Hook::status)
            .filter(|s| s["id"] == json!(message_id))
            .collect()
    }

    /// Waits until `message_id` has `n` statuses; returns their names.
    fn wait_statuses(&self, message_id: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let got = self.statuses_of(message_id);
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "{} of {n} statuses", got.len());
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Hook> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length")?.parse().ok()?;
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(Hook {
        signature: headers.get("x-hub-signature-256").cloned(),
        content_type: headers.get("content-type").cloned(),
        body: buf[head_end..head_end + length].to_vec(),
    })
}

fn names(statuses: &[Value]) -> Vec<&str> {
    statuses
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect()
}

#[test]
fn tokens_are_checked() {
    let api = Api::new();
    api.fake.open_window("4915112345678");
    api.fake.set_pair_spacing(Duration::ZERO);
    let body = json!({"messaging_product": "whatsapp", "to": "4915112345678", "type": "text", "text": {"body": "x"}});
    for token in [None, Some("EAAGwrong")] {
        let error = assert_error(api.send_as(token, &body), 401, 190, INVALID_TOKEN);
        assert_eq!(error["type"], json!("OAuthException"));
    }
    // The access_token parameter works as well as the header.
    let (status, answer) = api.post_raw(
        None,
        &format!("/{VERSION}/{PHONE_ID}/messages?access_token={TOKEN}"),
        &body.to_string(),
    );
    assert_eq!(status, 200, "{answer}");

    api.fake.expire_token();
    let (status, answer) = api.send_as(Some(TOKEN), &body);
    assert_eq!(status, 401);
    let error = &answer["error"];
    assert_eq!(error["code"], json!(190));
    assert_eq!(error["error_subcode"], json!(463));
    assert_eq!(error["type"], json!("OAuthException"));
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("Error validating access token: Session has expired on ")
            && message.contains("The current time is"),
        "{message}"
    );
    // Media too.
    api.fake.add_media("1111", b"x".to_vec(), "image/jpeg");
    let r = api.get(Some(TOKEN), &format!("{}/{VERSION}/1111", api.fake.url()));
    assert_eq!(r.status().as_u16(), 401);

    api.fake.restore_token();
    assert_eq!(api.send_as(Some(TOKEN), &body).0, 200);
    assert_eq!(api.fake.refused(190), 3);
    assert_eq!(api.fake.calls(), 5);
    assert_eq!(api.fake.sent().len(), 2);
}

#[test]
fn paths_versions_and_the_phone_number_id() {
    let api = Api::new();
    api.fake.set_pair_spacing(Duration::ZERO);
    api.fake.open_window("4915112345678");
    let body =
        json!({"messaging_product": "whatsapp", "to": "4915112345678", "text": {"body": "x"}})
            .to_string();
    for path in [
        format!("/{PHONE_ID}/messages"),
        format!("/v21/{PHONE_ID}/messages"),
        format!("/vx.0/{PHONE_ID}/messages"),
    ] {
        assert_error(
            api.post_raw(Some(TOKEN), &path, &body),
            400,
            2500,
            &format!("Unknown path components: {path}"),
        );
    }
    let error = assert_error(
        api.post_raw(Some(TOKEN), &format!("/{VERSION}/999999/messages"), &body),
        400,
        100,
        "Unsupported post request. Object with ID '999999' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
    );
    assert_eq!(error["error_subcode"], json!(33));
    assert_eq!(error["type"], json!("GraphMethodException"));
    assert_eq!(api.fake.refused(100), 1);

    // The version used is remembered.
    for version in ["v19.0", "v23.0"] {
        let (status, answer) = api.post_raw(
            Some(TOKEN),
            &format!("/{version}/{PHONE_ID}/messages"),
            &body,
        );
        assert_eq!(status, 200, "{answer}");
    }
    let versions: Vec<String> = api.fake.sent().into_iter().map(|s| s.version).collect();
    assert_eq!(versions, ["v19.0", "v23.0"]);

    // The business number itself can be read.
    let r = api.get(
        Some(TOKEN),
        &format!("{}/{VERSION}/{PHONE_ID}", api.fake.url()),
    );
    assert_eq!(r.status().as_u16(), 200);
    let phone: Value = r.json().unwrap();
    assert_eq!(phone["id"], json!(PHONE_ID));
    assert_eq!(phone["platform_type"], json!("CLOUD_API"));
}

#[test]
fn message_shape_is_checked() {
    let api = Api::new();
    api.fake.set_pair_spacing(Duration::ZERO);
    let to = "4915112345678";
    api.fake.open_window(to);
    let text = |extra: Value| {
        let mut body = json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": "Hallo"}});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    assert_invalid(
        api.post_raw(
            Some(TOKEN),
            &format!("/{VERSION}/{PHONE_ID}/messages"),
            "not json",
        ),
        "JSON object",
    );
    assert_invalid(api.send(json!([1, 2])), "JSON object");
    let cases = [
        (json!({"messaging_product": null}), "messaging_product"),
        (json!({"messaging_product": "sms"}), "messaging_product"),
        (json!({"recipient_type": "group"}), "recipient_type"),
        (json!({"to": null}), "to is required"),
        (json!({"to": 4915112345678u64}), "to is required"),
        (json!({"to": "abc"}), "8 to 15 digits"),
        (json!({"to": "1234567"}), "8 to 15 digits"),
        (json!({"to": "1234567890123456"}), "8 to 15 digits"),
        (json!({"to": "++4915112345678"}), "8 to 15 digits"),
        (json!({"to": "+49 151 12345678"}), "8 to 15 digits"),
        (
            json!({"type": "video"}),
            "type must be one of text, image, template",
        ),
        (json!({"type": 7}), "type must be a string"),
        (json!({"text": null}), "text is required"),
        (json!({"text": {"body": ""}}), "text.body must not be empty"),
        (json!({"text": {"preview": "x"}}), "text.body is required"),
        (
            json!({"text": {"body": "x".repeat(4097)}}),
            "at most 4096 characters",
        ),
        (
            json!({"text": {"body": "x", "preview_url": "yes"}}),
            "preview_url must be a boolean",
        ),
        (
            json!({"type": "image", "image": {}}),
            "needs a link or an id",
        ),
        (
            json!({"type": "image", "image": {"link": "ftp://x.org/a.jpg"}}),
            "http(s) URL",
        ),
        (
            json!({"type": "image", "image": {"link": "https://x.org/a.jpg", "id": "1"}}),
            "not both",
        ),
        (json!({"type": "image", "image": {"id": ""}}), "media id"),
        (
            json!({"type": "image", "image": {"link": "https://x.org/a.jpg", "caption": "y".repeat(1025)}}),
            "at most 1024 characters",
        ),
        (
            json!({"type": "template", "template": {"language": {"code": "de"}}}),
            "template.name",
        ),
        (
            json!({"type": "template", "template": {"name": "t"}}),
            "template.language",
        ),
        (
            json!({"type": "template", "template": {"name": "t", "language": {"code": "de", "policy": "fallback"}}}),
            "policy",
        ),
        (
            json!({"type": "template", "template": {"name": "t", "language": {"code": "de"}, "components": [{"type": "button"}]}}),
            "header or body",
        ),
        (
            json!({"type": "template", "template": {"name": "t", "language": {"code": "de"}, "components": [{"type": "body", "parameters": [{"type": "currency"}]}]}}),
            "text or image",
        ),
    ];
    for (change, why) in &cases {
        assert_invalid(api.send(text(change.clone())), why);
    }
    assert!(api.fake.sent().is_empty());
    assert_eq!(api.fake.refused(100), 2 + cases.len() as u64);

    // 4096 characters, not bytes; `type` defaults to text; a leading +.
    let (status, answer) = api.send(text(json!({"type": null, "to": "+4915112345678", "text": {"body": "ä".repeat(4096), "preview_url": true}})));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["messaging_product"], json!("whatsapp"));
    assert_eq!(
        answer["contacts"],
        json!([{"input": "+4915112345678", "wa_id": to}])
    );
    let id = wamid(&answer);
    assert!(id.starts_with("wamid.") && id.len() > 30, "{id}");
    assert!(answer["messages"][0].get("message_status").is_none());
    let sent = api.fake.sent_to(to);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].id, id);
    assert_eq!(sent[0].to, "+4915112345678");
    assert_eq!(sent[0].wa_id, to);
    assert_eq!(sent[0].kind, "text");
    assert!(sent[0].preview_url);
    assert_eq!(sent[0].text.chars().count(), 4096);
    assert_eq!(sent[0].fails_with, None);

    // Ids are unique.
    let other = wamid(&api.text(to, "noch eine").1);
    assert_ne!(other, id);
}

#[test]
fn images_by_link_or_id() {
    let api = Api::new();
    api.fake.set_pair_spacing(Duration::ZERO);
    let to = "4915112345678";
    api.fake.open_window(to);
    api.fake
        .add_media("778899", b"\xff\xd8jpeg".to_vec(), "image/jpeg");
    let image = |image: Value| {
        api.send(
            json!({"messaging_product": "whatsapp", "to": to, "type": "image", "image": image}),
        )
    };
    assert_eq!(
        image(json!({"link": "https://stadt.example/a.jpg", "caption": "y".repeat(1024)})).0,
        200
    );
    assert_eq!(image(json!({"id": "778899"})).0, 200);
    // An unknown media id is accepted and fails later, as Meta's does.
    assert_eq!(image(json!({"id": "404404"})).0, 200);
    let sent = api.fake.sent();
    assert_eq!(sent[0].kind, "image");
    assert_eq!(
        sent[0].image.as_deref(),
        Some("https://stadt.example/a.jpg")
    );
    assert_eq!(sent[0].text.chars().count(), 1024);
    assert_eq!(sent[1].image.as_deref(), Some("778899"));
    assert_eq!(sent[1].text, "");
    assert_eq!(sent[1].fails_with, None);
    assert_eq!(sent[2].fails_with, Some(131053));
}

#[test]
fn templates_are_checked() {
    let api = Api::new();
    api.fake.set_pair_spacing(Duration::ZERO);
    let to = "4915112345678";
    api.fake
        .add_template("termin", "de", "Hallo {{1}}, Ihr Termin ist am {{2}}.");
    api.fake
        .add_template("hinweis", "de", "Heute keine Müllabfuhr.");

    let error = assert_coded(api.template(to, "gibtsnicht", "de", &[]), 132001);
    assert_eq!(
        details(&error),
        "template name (gibtsnicht) does not exist in de"
    );
    let error = assert_coded(api.template(to, "termin", "en_US", &["a", "b"]), 132001);
    assert_eq!(
        details(&error),
        "template name (termin) does not exist in en_US"
    );

    let counts: [&[&str]; 3] = [&["Erika"], &["a", "b", "c"], &[]];
    for params in counts {
        let error = assert_coded(api.template(to, "termin", "de", params), 132000);
        assert_eq!(
            details(&error),
            format!(
                "body: number of localizable_params ({}) does not match the expected number of params (2)",
                params.len()
            )
        );
    }
    for bad in ["Zeile\nzwei", "Tab\there", "fünf     Leerzeichen"] {
        let error = assert_coded(api.template(to, "termin", "de", &[bad, "x"]), 132018);
        assert_eq!(
            details(&error),
            "Param text cannot have new-line/tab characters or more than 4 consecutive spaces"
        );
    }
    let error = assert_coded(api.template(to, "termin", "de", &["", "x"]), 132018);
    assert_eq!(details(&error), "Param text cannot be empty");
    let long = "x".repeat(1025);
    assert_coded(api.template(to, "termin", "de", &[&long, "x"]), 132005);
    let half = "x".repeat(600);
    let error = assert_coded(api.template(to, "termin", "de", &[&half, &half]), 132005);
    assert!(details(&error).contains("rendered"), "{error}");
    // An image where text is expected.
    let (status, answer) = api.send(json!({
        "messaging_product": "whatsapp", "to": to, "type": "template",
        "template": {"name": "termin", "language": {"code": "de"}, "components": [
            {"type": "body", "parameters": [{"type": "image", "image": {"link": "https://x.org/a.jpg"}}, {"type": "text", "text": "x"}]}
        ]}
    }));
    assert_coded((status, answer), 132012);
    assert!(api.fake.sent().is_empty());
    assert_eq!(api.fake.refused(132000), 3);
    assert_eq!(api.fake.refused(132018), 4);

    // Four spaces are fine; templates need no open window.
    let (status, answer) = api.template(to, "termin", "de", &["Erika    M.", "3. März"]);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["messages"][0]["message_status"], json!("accepted"));
    let sent = api.fake.sent_to(to).pop().unwrap();
    assert_eq!(sent.kind, "template");
    assert_eq!(sent.text, "Hallo Erika    M., Ihr Termin ist am 3. März.");
    assert_eq!(sent.params, ["Erika    M.", "3. März"]);
    assert_eq!(sent.template, Some(("termin".into(), "de".into())));
    assert_eq!(sent.fails_with, None);

    // Without parameters the components may be left out, but no parameter
    // may be given.
    let (status, answer) = api.send(json!({
        "messaging_product": "whatsapp", "to": to, "type": "template",
        "template": {"name": "hinweis", "language": {"code": "de", "policy": "deterministic"}}
    }));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        api.fake.sent().last().unwrap().text,
        "Heute keine Müllabfuhr."
    );
    assert_coded(api.template(to, "hinweis", "de", &["x"]), 132000);
    // A parameter's own braces are not placeholders.
    api.fake.add_template("echo", "de", "{{1}} / {{2}}");
    assert_eq!(api.template(to, "echo", "de", &["{{2}}", "b"]).0, 200);
    assert_eq!(api.fake.sent().last().unwrap().text, "{{2}} / b");
}

#[test]
fn template_headers() {
    let api = Api::new();
    api.fake.set_pair_spacing(Duration::ZERO);
    let to = "4915112345678";
    api.fake.add_template_with_header(
        "warnung",
        "de",
        TemplateHeader::Text("Warnung für {{1}}".into()),
        "{{1}}",
    );
    api.fake
        .add_template_with_header("plakat", "de", TemplateHeader::Image, "Neu: {{1}}");
    let send = |name: &str, header: Option<Value>, body: &str| {
        let mut components =
            vec![json!({"type": "body", "parameters": [{"type": "text", "text": body}]})];
        if let Some(h) = header {
            components.insert(0, json!({"type": "header", "parameters": [h]}));
        }
        api.send(json!({
            "messaging_product": "whatsapp", "to": to, "type": "template",
            "template": {"name": name, "language": {"code": "de"}, "components": components}
        }))
    };
    let error = assert_coded(send("warnung", None, "Sturm"), 132000);
    assert!(details(&error).starts_with("header:"), "{error}");
    assert_coded(
        send(
            "warnung",
            Some(json!({"type": "text", "text": "x".repeat(50)})),
            "Sturm",
        ),
        132005,
    );
    assert_coded(
        send(
            "warnung",
            Some(json!({"type": "image", "image": {"link": "https://x.org/a.jpg"}})),
            "Sturm",
        ),
        132012,
    );
    assert_eq!(
        send(
            "warnung",
            Some(json!({"type": "text", "text": "Mitte"})),
            "Sturm"
        )
        .0,
        200
    );
    let sent = api.fake.sent().pop().unwrap();
    assert_eq!(sent.header.as_deref(), Some("Warnung für Mitte"));
    assert_eq!(sent.text, "Sturm");

    assert_coded(send("plakat", None, "Fest"), 132000);
    assert_coded(
        send("plakat", Some(json!({"type": "text", "text": "x"})), "Fest"),
        132012,
    );
    assert_eq!(
        send(
            "plakat",
            Some(json!({"type": "image", "image": {"link": "https://x.org/p.jpg"}})),
            "Fest"
        )
        .0,
        200
    );
    let sent = api.fake.sent().pop().unwrap();
    assert_eq!(sent.image.as_deref(), Some("https://x.org/p.jpg"));
    assert_eq!(sent.text, "Neu: Fest");
    // A header the template does not have.
    api.fake.add_template("kurz", "de", "{{1}}");
    assert_coded(
        send("kurz", Some(json!({"type": "text", "text": "x"})), "y"),
        132000,
    );
}

#[test]
fn eighty_messages_per_second() {
    let api = Api::new();
    api.fake.freeze_clock();
    let number = |n: u32| format!("49151{n:08}");
    for n in 0..80 {
        api.fake.open_window(&number(n));
        let (status, body) = api.text(&number(n), "x");
        assert_eq!(status, 200, "message {n}: {body}");
    }
    // Meta answers 400, not 429.
    for _ in 0..2 {
        let error = assert_coded(api.text(&number(80), "x"), 130429);
        assert_eq!(
            details(&error),
            "Cloud API message throughput has been reached."
        );
    }
    assert_eq!(api.fake.refused(130429), 2);
    // A second later 80 more pass: the refused ones did not count.
    api.fake.advance(Duration::from_secs(1));
    for n in 80..160 {
        api.fake.open_window(&number(n));
        assert_eq!(api.text(&number(n), "x").0, 200, "message {n}");
    }
    assert_coded(api.text(&number(160), "x"), 130429);
    assert_eq!(api.fake.sent().len(), 160);

    // The limit can be changed; the window slides.
    api.fake.set_per_second(3);
    api.fake.advance(Duration::from_secs(1));
    for n in 200..203 {
        api.fake.open_window(&number(n));
        assert_eq!(api.text(&number(n), "x").0, 200);
        api.fake.advance(Duration::from_millis(400));
    }
    // At 1.2 s the first of the three is out of the second.
    api.fake.open_window(&number(203));
    assert_eq!(api.text(&number(203), "x").0, 200);
    assert_coded(api.text(&number(204), "x"), 130429);
}

#[test]
fn eighty_messages_per_second_on_real_time() {
    let api = Api::new();
    let t = Instant::now();
    let mut refused = 0;
    for n in 0..81u32 {
        let to = format!("49152{n:08}");
        api.fake.open_window(&to);
        if api.text(&to, "x").0 != 200 {
            refused += 1;
        }
    }
    // Only meaningful when the machine sent the 81 within a second.
    if t.elapsed() < Duration::from_millis(900) {
        assert_eq!(refused, 1);
        assert_eq!(api.fake.refused(130429), 1);
    }
}

#[test]
fn pair_rate_limit() {
    let api = Api::new();
    api.fake.freeze_clock();
    let to = "4915112345678";
    api.fake.open_window(to);
    assert_eq!(api.text(to, "eins").0, 200);
    let error = assert_coded(api.text(to, "zwei"), 131056);
    assert_eq!(
        details(&error),
        "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time."
    );
    assert_eq!(
        error["message"],
        json!("(#131056) (Business Account, Consumer Account) pair rate limit hit")
    );
    // Another number is not held up; with or without + it is one number.
    api.fake.open_window("4915187654321");
    assert_eq!(api.text("4915187654321", "x").0, 200);
    assert_coded(api.text(&format!("+{to}"), "zwei"), 131056);
    api.fake.advance(Duration::from_millis(5900));
    assert_coded(api.text(to, "zwei"), 131056);
    // Six seconds after the last accepted one; refusals did not count.
    api.fake.advance(Duration::from_millis(100));
    assert_eq!(api.text(to, "zwei").0, 200);
    assert_eq!(api.fake.refused(131056), 3);
    api.fake.set_pair_spacing(Duration::from_secs(1));
    api.fake.advance(Duration::from_secs(1));
    assert_eq!(api.text(to, "drei").0, 200);
    let at: Vec<Duration> = api.fake.sent_to(to).iter().map(|s| s.at).collect();
    assert_eq!(at[1] - at[0], Duration::from_secs(6));
}

#[test]
fn statuses_and_the_24_hour_window() {
    let api = Api::new();
    api.fake.set_pair_spacing(Duration::ZERO);
    let receiver = Receiver::start();
    api.fake.set_webhook(&receiver.url);
    let (open, closed) = ("4915111111111", "4915122222222");
    api.fake.open_window(open);

    // Within the window: sent, then delivered.
    let id = wamid(&api.text(open, "Hallo").1);
    let statuses = receiver.wait_statuses(&id, 2);
    assert_eq!(names(&statuses), ["sent", "delivered"]);
    let sent = &statuses[0];
    assert_eq!(sent["recipient_id"], json!(open));
    assert!(sent["timestamp"].as_str().unwrap().parse::<i64>().unwrap() > 1_600_000_000);
    assert_eq!(sent["pricing"]["category"], json!("service"));
    assert_eq!(sent["conversation"]["origin"]["type"], json!("service"));
    assert!(sent["conversation"]["expiration_timestamp"].is_string());
    assert_eq!(
        statuses[1]["conversation"]["id"],
        sent["conversation"]["id"]
    );
    assert!(statuses[1].get("errors").is_none());
    for hook in receiver.hooks() {
        assert!(hook.signed(), "{:?}", hook.signature);
        assert_eq!(hook.content_type.as_deref(), Some("application/json"));
        let body = hook.json();
        assert_eq!(body["object"], json!("whatsapp_business_account"));
        assert_eq!(body["entry"][0]["id"], json!(WABA_ID));
        let change = &body["entry"][0]["changes"][0];
        assert_eq!(change["field"], json!("messages"));
        assert_eq!(change["value"]["messaging_product"], json!("whatsapp"));
        assert_eq!(
            change["value"]["metadata"]["phone_number_id"],
            json!(PHONE_ID)
        );
        assert_eq!(
            change["value"]["metadata"]["display_phone_number"],
            json!("4930123456")
        );
    }

    // Never wrote: accepted, then failed with 131047.
    let (status, answer) = api.text(closed, "Hallo");
    assert_eq!(status, 200, "{answer}");
    let id = wamid(&answer);
    let statuses = receiver.wait_statuses(&id, 2);
    assert_eq!(names(&statuses), ["sent", "failed"]);
    assert!(statuses[0].get("pricing").is_none());
    assert_eq!(
        statuses[1]["errors"],
        json!([{
            "code": 131047,
            "title": "Re-engagement message",
            "message": "Re-engagement message",
            "error_data": {"details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
            "href": ERROR_CODES_HREF
        }])
    );
    assert_eq!(api.fake.sent_to(closed)[0].fails_with, Some(131047));
    // An image too.
    let answer = api
        .send(json!({"messaging_product": "whatsapp", "to": closed, "type": "image", "image": {"link": "https://x.org/a.jpg"}}))
        .1;
    assert_eq!(
        names(&receiver.wait_statuses(&wamid(&answer), 2)),
        ["sent", "failed"]
    );

    // Templates are always allowed.
    api.fake
        .add_template("hinweis", "de", "Heute keine Müllabfuhr.");
    let id = wamid(&api.template(closed, "hinweis", "de", &[]).1);
    let statuses = receiver.wait_statuses(&id, 2);
    assert_eq!(names(&statuses), ["sent", "delivered"]);
    assert_eq!(statuses[0]["pricing"]["category"], json!("utility"));

    // Writing opens the window; 24 hours later it is closed again.
    let _ = api.fake.text_message(closed, "Hallo Stadt");
    assert!(api.fake.window_open(closed));
    let id = wamid(&api.text(closed, "Antwort").1);
    assert_eq!(
        names(&receiver.wait_statuses(&id, 2)),
        ["sent", "delivered"]
    );
    api.fake.advance(Duration::from_secs(24 * 3600 - 1));
    assert!(api.fake.window_open(closed));
    api.fake.advance(Duration::from_secs(1));
    assert!(!api.fake.window_open(closed));
    let id = wamid(&api.text(closed, "zu spät").1);
    assert_eq!(names(&receiver.wait_statuses(&id, 2)), ["sent", "failed"]);
    // close_window closes at once.
    api.fake.close_window(open);
    let id = wamid(&api.text(open, "x").1);
    assert_eq!(names(&receiver.wait_statuses(&id, 2)), ["sent", "failed"]);

    api.fake.flush_webhooks(WAIT);
    assert_eq!(api.fake.webhook_posts(), receiver.hooks().len() as u64);
    assert_eq!(api.fake.webhook_failures(), 0);
}

#[test]
fn statuses_never_hold_up_the_answer() {
    let api = Api::new();
    api.fake.set_pair_spacing(Duration::ZERO);
    let receiver = Receiver::start();
    receiver.delay_ms.store(1500, Ordering::SeqCst);
    api.fake.set_webhook(&receiver.url);
    let to = "4915111111111";
    api.fake.open_window(to);
    let t = Instant::now();
    let first = wamid(&api.text(to, "eins").1);
    let second = wamid(&api.text(to, "zwei").1);
    assert!(
        t.elapsed() < Duration::from_millis(1200),
        "{:?}",
        t.elapsed()
    );
    assert!(api.fake.webhooks_pending() >= 3);
    api.fake.flush_webhooks(Duration::from_secs(30));
    // In order, message by message.
    let order: Vec<(String, String)> = receiver
        .hooks()
        .iter()
        .map(Hook::status)
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            (first.clone(), "sent".into()),
            (first.clone(), "delivered".into()),
            (second.clone(), "sent".into()),
            (second, "delivered".into()),
        ]
    );
    receiver.delay_ms.store(0, Ordering::SeqCst);

    // Read receipts on demand; delivered only when asked for.
    api.fake.read(&first);
    assert_eq!(names(&receiver.wait_statuses(&first, 3))[2], "read");
    api.fake.set_auto_delivered(false);
    let third = wamid(&api.text(to, "drei").1);
    api.fake.flush_webhooks(WAIT);
    assert_eq!(names(&receiver.statuses_of(&third)), ["sent"]);
    api.fake.deliver(&third);
    assert_eq!(
        names(&receiver.wait_statuses(&third, 2)),
        ["sent", "delivered"]
    );

    // A delay separates the statuses from the answer.
    api.fake.set_status_delay(Duration::from_secs(1));
    let fourth = wamid(&api.text(to, "vier").1);
    std::thread::sleep(Duration::from_millis(100));
    assert!(receiver.statuses_of(&fourth).is_empty());
    assert_eq!(names(&receiver.wait_statuses(&fourth, 1)), ["sent"]);
}

#[test]
fn webhook_failures_are_counted() {
    let api = Api::new();
    let receiver = Receiver::start();
    receiver.answer.store(500, Ordering::SeqCst);
    api.fake.set_webhook(&receiver.url);
    api.fake.open_window("4915111111111");
    assert_eq!(api.text("4915111111111", "x").0, 200);
    api.fake.flush_webhooks(WAIT);
    assert_eq!(receiver.hooks().len(), 2);
    assert_eq!(api.fake.webhook_posts(), 2);
    assert_eq!(api.fake.webhook_failures(), 2);
    // Nobody listening counts as well.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    api.fake.set_webhook(&url);
    api.fake.open_window("4915122222222");
    assert_eq!(api.text("4915122222222", "x").0, 200);
    api.fake.flush_webhooks(WAIT);
    assert_eq!(api.fake.webhook_failures(), 4);
    // No webhook, no posts.
    api.fake.clear_webhook();
    api.fake.open_window("4915133333333");
    assert_eq!(api.text("4915133333333", "x").0, 200);
    assert_eq!(api.fake.webhooks_pending(), 0);
    assert_eq!(api.fake.webhook_posts(), 4);
}

#[test]
fn injected_failures() {
    let api = Api::new();
    api.fake.set_pair_spacing(Duration::ZERO);
    let to = "4915112345678";
    api.fake.open_window(to);
    for (code, _, meta_details) in ERRORS {
        api.fake.fail_next(to, *code);
        let error = assert_coded(api.text(to, "x"), *code);
        assert_eq!(details(&error), *meta_details);
        assert_eq!(api.fake.refused(*code), 1);
    }
    api.fake.fail_next(to, 190);
    assert_error(api.text(to, "x"), 401, 190, INVALID_TOKEN);
    // Only the next send: this one passes, and other numbers never failed.
    assert_eq!(api.text(to, "x").0, 200);
    assert_eq!(api.fake.sent().len(), 1);

    // Calls queue up.
    api.fake.fail_next(to, 131048);
    api.fake.fail_next(to, 368);
    assert_coded(api.text(to, "x"), 131048);
    assert_coded(api.text(to, "x"), 368);
    assert_eq!(api.text(to, "x").0, 200);

    api.fake.fail_next_http(to, 500);
    let error = assert_error(api.text(to, "x"), 500, 1, "An unknown error has occurred.");
    assert_eq!(error["is_transient"], json!(true));
    assert_eq!(error["type"], json!("OAuthException"));
    api.fake.fail_next_http(to, 503);
    let error = assert_error(api.text(to, "x"), 503, 2, "Service temporarily unavailable");
    assert_eq!(error["is_transient"], json!(true));
    assert_eq!((api.fake.refused(1), api.fake.refused(2)), (1, 1));
    assert_eq!(api.text(to, "x").0, 200);
}

#[test]
fn late_failures() {
    let api = Api::new();
    api.fake.set_pair_spacing(Duration::ZERO);
    let receiver = Receiver::start();
    api.fake.set_webhook(&receiver.url);
    let to = "4915112345678";
    api.fake.open_window(to);
    api.fake
        .add_template("hinweis", "de", "Heute keine Müllabfuhr.");
    for code in [131026, 131049, 131050] {
        api.fake.fail_late(to, code);
        let (status, answer) = api.template(to, "hinweis", "de", &[]);
        assert_eq!(status, 200, "{answer}");
        let statuses = receiver.wait_statuses(&wamid(&answer), 2);
        assert_eq!(names(&statuses), ["sent", "failed"]);
        assert_eq!(statuses[1]["errors"][0]["code"], json!(code));
        let (_, title, meta_details) = *ERRORS.iter().find(|(c, _, _)| *c == code).unwrap();
        assert_eq!(statuses[1]["errors"][0]["title"], json!(title));
        assert_eq!(
            statuses[1]["errors"][0]["error_data"]["details"],
            json!(meta_details)
        );
        assert_eq!(api.fake.sent().last().unwrap().fails_with, Some(code));
    }
    // Only the next one.
    let id = wamid(&api.text(to, "x").1);
    assert_eq!(
        names(&receiver.wait_statuses(&id, 2)),
        ["sent", "delivered"]
    );
}

#[test]
#[should_panic(expected = "knows no error code 4242")]
fn unknown_injected_codes_are_refused() {
    let fake = FakeWhatsApp::start(PHONE_ID, TOKEN, SECRET);
    fake.fail_next("4915112345678", 4242);
}

#[test]
#[should_panic(expected = "knows no error code 4243")]
fn unknown_late_codes_are_refused() {
    let fake = FakeWhatsApp::start(PHONE_ID, TOKEN, SECRET);
    fake.fail_late("4915112345678", 4243);
}

#[test]
#[should_panic(expected = "without gaps")]
fn template_placeholders_must_not_have_gaps() {
    let fake = FakeWhatsApp::start(PHONE_ID, TOKEN, SECRET);
    fake.add_template("luecke", "de", "{{1}} und {{3}}");
}

#[test]
fn media_metadata_and_download() {
    let api = Api::new();
    let bytes = b"\xff\xd8\xff\xe0 a jpeg".to_vec();
    api.fake
        .add_media("1234567890", bytes.clone(), "image/jpeg");
    let meta_url = format!("{}/{VERSION}/1234567890", api.fake.url());
    let fetch_meta = || -> Value {
        let r = api.get(Some(TOKEN), &meta_url);
        assert_eq!(r.status().as_u16(), 200);
        r.json().unwrap()
    };
    let meta = fetch_meta();
    assert_eq!(meta["messaging_product"], json!("whatsapp"));
    assert_eq!(meta["id"], json!("1234567890"));
    assert_eq!(meta["mime_type"], json!("image/jpeg"));
    assert_eq!(meta["file_size"], json!(bytes.len()));
    assert_eq!(meta["sha256"], json!(hex::encode(Sha256::digest(&bytes))));
    let url = meta["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!(
            "{}/media-download/1234567890?token=",
            api.fake.url()
        )),
        "{url}"
    );

    // Without the token (or with another) the metadata and the bytes are refused.
    assert_eq!(api.get(None, &meta_url).status().as_u16(), 401);
    assert_eq!(api.get(None, &url).status().as_u16(), 401);
    assert_eq!(api.get(Some("EAAGwrong"), &url).status().as_u16(), 401);
    let ok = api.get(Some(TOKEN), &url);
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(ok.headers()["content-type"], "image/jpeg");
    assert_eq!(ok.bytes().unwrap().as_ref(), bytes.as_slice());
    // A URL is one media's.
    let other = url.replace("/1234567890?", "/999?");
    assert_eq!(api.get(Some(TOKEN), &other).status().as_u16(), 404);

    // The URL lives five minutes; a new lookup gives a new one.
    api.fake.advance(Duration::from_secs(299));
    assert_eq!(api.get(Some(TOKEN), &url).status().as_u16(), 200);
    api.fake.advance(Duration::from_secs(1));
    assert_eq!(api.get(Some(TOKEN), &url).status().as_u16(), 404);
    let fresh = fetch_meta()["url"].as_str().unwrap().to_owned();
    assert_ne!(fresh, url);
    assert_eq!(api.get(Some(TOKEN), &fresh).status().as_u16(), 200);
    api.fake.set_media_url_ttl(Duration::from_secs(10));
    let short = fetch_meta()["url"].as_str().unwrap().to_owned();
    api.fake.advance(Duration::from_secs(10));
    assert_eq!(api.get(Some(TOKEN), &short).status().as_u16(), 404);

    // Unknown media.
    let r = api.get(Some(TOKEN), &format!("{}/{VERSION}/555", api.fake.url()));
    let error = assert_error(
        Api::answer(r),
        400,
        100,
        "Unsupported get request. Object with ID '555' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
    );
    assert_eq!(error["error_subcode"], json!(33));
}

#[test]
fn inbound_payloads_and_signed_posts() {
    let api = Api::new();
    let receiver = Receiver::start();
    let from = "4915199999999";
    api.fake.set_profile_name(from, "Max Muster");
    assert!(!api.fake.window_open(from));
    let payload = api.fake.text_message(from, "Hallo Stadt");
    assert!(api.fake.window_open(from));
    let value = &payload["entry"][0]["changes"][0]["value"];
    assert_eq!(payload["object"], json!("whatsapp_business_account"));
    assert_eq!(value["metadata"]["phone_number_id"], json!(PHONE_ID));
    assert_eq!(
        value["contacts"],
        json!([{"profile": {"name": "Max Muster"}, "wa_id": from}])
    );
    let message = &value["messages"][0];
    assert_eq!(message["from"], json!(from));
    assert_eq!(message["type"], json!("text"));
    assert_eq!(message["text"]["body"], json!("Hallo Stadt"));
    assert!(message["timestamp"]
        .as_str()
        .unwrap()
        .parse::<i64>()
        .is_ok());
    let first_id = message["id"].as_str().unwrap().to_owned();
    assert!(first_id.starts_with("wamid."));
    assert_eq!(api.fake.last_inbound_id(), Some(first_id.clone()));

    // Signed posts pass; forged or missing signatures do not.
    assert_eq!(api.fake.post(&receiver.url, &payload), 200);
    let body = serde_json::to_vec(&payload).unwrap();
    assert_eq!(api.fake.sign(&body), expected_signature(&body));
    assert_eq!(api.fake.post_signed_with(&receiver.url, &body, None), 401);
    let forged = format!("sha256={}", "0".repeat(64));
    assert_eq!(
        api.fake
            .post_signed_with(&receiver.url, &body, Some(&forged)),
        401
    );
    let hooks = receiver.wait_for(3);
    assert_eq!(hooks[0].json(), payload);
    assert_eq!(hooks[1].signature, None);
    api.fake.set_webhook(&receiver.url);
    assert_eq!(api.fake.push(&payload), 200);

    // Images carry the media's type and hash.
    api.fake
        .add_media("3141", b"png bytes".to_vec(), "image/png");
    let image = api.fake.image_message(from, "3141", Some("Schlagloch"));
    let message = &image["entry"][0]["changes"][0]["value"]["messages"][0];
    assert_eq!(message["type"], json!("image"));
    assert_eq!(
        message["image"],
        json!({"id": "3141", "mime_type": "image/png", "sha256": hex::encode(Sha256::digest(b"png bytes")), "caption": "Schlagloch"})
    );
    assert_ne!(message["id"].as_str().unwrap(), first_id);

    // Any other type through `message`.
    let voice = api.fake.message(
        from,
        "audio",
        json!({"id": "2718", "mime_type": "audio/ogg; codecs=opus", "voice": true}),
    );
    let message = &voice["entry"][0]["changes"][0]["value"]["messages"][0];
    assert_eq!(message["type"], json!("audio"));
    assert_eq!(message["audio"]["voice"], json!(true));
    let unsupported = api
        .fake
        .message("4915188888888", "unsupported", Value::Null);
    let message = &unsupported["entry"][0]["changes"][0]["value"]["messages"][0];
    assert_eq!(message["type"], json!("unsupported"));
    assert_eq!(message["errors"][0]["code"], json!(131051));
    assert!(api.fake.window_open("4915188888888"));
    assert_eq!(
        unsupported["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"],
        json!("Erika Mustermann")
    );
    assert_eq!(
        api.fake.last_inbound_id().as_deref(),
        message["id"].as_str()
    );
}

#[test]
fn status_payloads_on_demand() {
    let api = Api::new();
    let to = "4915112345678";
    api.fake.open_window(to);
    let id = wamid(&api.text(to, "x").1);
    let failed = api.fake.status(&id, "failed", Some(131050));
    let status = &failed["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert_eq!(status["id"], json!(id));
    assert_eq!(status["status"], json!("failed"));
    assert_eq!(status["recipient_id"], json!(to));
    assert_eq!(status["errors"][0]["code"], json!(131050));
    assert!(status.get("pricing").is_none());
    let delivered = api.fake.status(&id, "delivered", None);
    let status = &delivered["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert_eq!(status["pricing"]["billable"], json!(false));
    assert!(status["conversation"]["id"].is_string());
    assert!(status.get("errors").is_none());
    let read = api.fake.status(&id, "read", None);
    let status = &read["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert!(status.get("pricing").is_none());
    // Timestamps follow the fake's clock.
    let before: i64 = api.fake.status(&id, "read", None)["entry"][0]["changes"][0]["value"]
        ["statuses"][0]["timestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    api.fake.advance(Duration::from_secs(3600));
    let after: i64 = api.fake.status(&id, "read", None)["entry"][0]["changes"][0]["value"]
        ["statuses"][0]["timestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (3600..=3601).contains(&(after - before)),
        "{before} {after}"
    );
    assert!(api.fake.elapsed() >= Duration::from_secs(3600));
}

#[test]
fn inbound_messages_can_be_marked_read() {
    let api = Api::new();
    api.fake.freeze_clock();
    api.fake.set_per_second(1);
    let from = "4915199999999";
    let _ = api.fake.text_message(from, "Hallo");
    let id = api.fake.last_inbound_id().unwrap();
    let receipt = |message_id: &str| {
        api.send(
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": message_id}),
        )
    };
    // Read receipts count towards no limit.
    assert_eq!(api.text(from, "x").0, 200);
    let (status, answer) = receipt(&id);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({"success": true}));
    assert_invalid(
        receipt("wamid.nicht-empfangen"),
        "not a message this number received",
    );
    assert_invalid(
        api.send(json!({"messaging_product": "whatsapp", "status": "delivered", "message_id": id})),
        "status must be \"read\"",
    );
    assert_invalid(
        api.send(json!({"messaging_product": "whatsapp", "status": "read"})),
        "message_id is required",
    );
    assert_eq!(api.fake.marked_read(), [id]);
    assert_eq!(api.fake.sent().len(), 1);
}
