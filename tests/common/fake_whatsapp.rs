//! A faithful fake of the WhatsApp Cloud API (Meta's Graph API), for tests
//! and benchmarks.
//!
//! A small actix-web server on loopback, on a thread of its own, holding the
//! business phone number's world in one `Mutex`: the access token, message
//! templates, media, customer-service windows, every message it accepted,
//! and the webhook it reports to. It answers as the Graph API does — the
//! success body `{"messaging_product":"whatsapp","contacts":[…],"messages":
//! [{"id":"wamid.…"}]}` or `{"error":{"message","type","code",
//! "error_subcode","error_data":{"messaging_product","details"},
//! "fbtrace_id"}}` with Meta's wording — and enforces:
//!
//! * the version segment: every path starts with `/v<digits>.<digits>/`
//!   (recorded in [`Sent::version`]), else 400 code 2500 "Unknown path
//!   components";
//! * `Authorization: Bearer <token>` (or `?access_token=`), else 401 code 190
//!   "Invalid OAuth access token - Cannot parse access token"; after
//!   [`FakeWhatsApp::expire_token`] 401 code 190 subcode 463 "Error
//!   validating access token: Session has expired on …";
//! * the phone number id in `POST /{ver}/{phone_number_id}/messages`, else
//!   400 code 100 subcode 33 "Unsupported post request. Object with ID … does
//!   not exist …" (`GraphMethodException`, as Meta types it);
//! * the message's shape, else 400 "(#100) Invalid parameter" with
//!   `error_data.details` naming the field: `messaging_product` "whatsapp",
//!   `recipient_type` "individual" if given, `to` 8–15 digits after an
//!   optional `+`, `type` `text` (the default), `image` or `template`; text
//!   1–4096 characters, `preview_url` a boolean; image a `link` (http/https)
//!   or an `id`, not both, caption ≤ 1024 characters;
//! * templates registered with [`FakeWhatsApp::add_template`]: 132001 for an
//!   unknown name or language, 132000 for a wrong parameter count, 132012 for
//!   a parameter of the wrong type, 132018 for a parameter that is empty or
//!   holds a new line, a tab or more than 4 consecutive spaces, 132005 for a
//!   parameter over 1024 characters, a header over 60 or a rendered body over
//!   1024;
//! * throughput: more than [`DEFAULT_PER_SECOND`] (80) accepted messages in
//!   any second → 400 code 130429 "Rate limit hit" (Meta answers 400, not
//!   429); refused messages do not count;
//! * pair rate: a message to a number less than 6 s after the last accepted
//!   one to it → 400 code 131056;
//! * the 24-hour customer-service window: a text or image to a number that
//!   has not written within 24 h is accepted and then fails in a `failed`
//!   status webhook with 131047; templates are always allowed;
//! * read receipts for inbound messages (`"status":"read"`,
//!   `"message_id"`): `{"success":true}` for an id the helpers made, else
//!   100; they count towards no limit;
//! * media: `GET /{ver}/{media_id}` answers the metadata and a download URL
//!   that needs the token and expires after 5 minutes (then 404); an image
//!   sent by an unknown media id fails later with 131053;
//! * injected failures: [`FakeWhatsApp::fail_next`] (an error answer with
//!   Meta's wording for the code), [`FakeWhatsApp::fail_next_http`] (500,
//!   503 with codes 1 and 2) and [`FakeWhatsApp::fail_late`] (a `failed`
//!   status after acceptance).
//!
//! Webhooks go to the URL given to [`FakeWhatsApp::set_webhook`], signed
//! like Meta's (`X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body
//! with the app secret>`), from a thread of their own, in order, never
//! holding up the send's answer: `sent`, then `delivered` (or `failed`).
//! As with Meta, a status may reach the receiver before the send's answer
//! reaches the sender; [`FakeWhatsApp::set_status_delay`] separates them.
//!
//! All times (windows, pair spacing, throughput, media URLs, webhook
//! timestamps, [`Sent::at`]) are on the fake's clock, which runs with real
//! time unless frozen ([`FakeWhatsApp::freeze_clock`]) and can be moved
//! forward ([`FakeWhatsApp::advance`]). Used from tests through `mod common;`
//! and from benchmarks through `#[path]`, so it depends on nothing else in
//! `tests/common`; its webhook client is plain `std::net` (http only), so it
//! works from any thread, inside an async runtime or not.
// Handlers return ready answers as errors; a test double, not a hot path.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

use actix_web::{http::Method, http::StatusCode, web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::Rng as _;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::{
    collections::{HashMap, HashSet, VecDeque},
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc, Arc, Mutex, MutexGuard,
    },
    time::{Duration, Instant},
};

/// Longest text body, in characters.
pub const MAX_TEXT: usize = 4096;
/// Longest image caption, in characters.
pub const MAX_CAPTION: usize = 1024;
/// Longest template parameter and rendered template body, in characters.
pub const MAX_TEMPLATE_TEXT: usize = 1024;
/// Longest rendered template text header, in characters.
pub const MAX_TEMPLATE_HEADER: usize = 60;
/// Accepted messages per second, unless [`FakeWhatsApp::set_per_second`].
pub const DEFAULT_PER_SECOND: usize = 80;
/// Least time between two messages to one number.
pub const DEFAULT_PAIR_SPACING: Duration = Duration::from_secs(6);
/// How long a media download URL works.
pub const DEFAULT_MEDIA_URL_TTL: Duration = Duration::from_secs(5 * 60);
/// The customer-service window after the customer's last message.
pub const WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// The WhatsApp Business Account id in webhook envelopes (`entry[0].id`).
pub const WABA_ID: &str = "102290129340398";
/// The business number in webhook metadata.
pub const DISPLAY_PHONE_NUMBER: &str = "4930123456";
/// Where Meta's error objects in status webhooks point.
pub const ERROR_CODES_HREF: &str =
    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/";
/// The name of every customer unless [`FakeWhatsApp::set_profile_name`].
pub const DEFAULT_PROFILE_NAME: &str = "Erika Mustermann";

/// `(code, title, details)`: Meta's wording for the errors the fake gives or
/// can be told to give (190, the token error, is answered separately). A
/// synchronous error's message is `(#<code>) <title>`.
pub const ERRORS: &[(i64, &str, &str)] = &[
    (100, "Invalid parameter", "Invalid parameter"),
    (
        368,
        "Temporarily blocked for policies violations",
        "The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy.",
    ),
    (
        130429,
        "Rate limit hit",
        "Cloud API message throughput has been reached.",
    ),
    (
        131000,
        "Something went wrong",
        "Message failed to send due to an unknown error.",
    ),
    (
        131026,
        "Message Undeliverable",
        "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number; the recipient has not accepted WhatsApp's new Terms of Service and Privacy Policy; the recipient is using an old WhatsApp version.",
    ),
    (
        131031,
        "Business Account locked",
        "The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy, or the data of the business could not be verified.",
    ),
    (
        131047,
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
    ),
    (
        131048,
        "Spam rate limit hit",
        "Message failed to send because there are restrictions on how many messages can be sent from this phone number. This may be because too many previous messages were blocked or flagged as spam.",
    ),
    (
        131049,
        "This message was not delivered to maintain healthy ecosystem engagement.",
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
    ),
    (
        131050,
        "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.",
        "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.",
    ),
    (
        131053,
        "Media upload error",
        "Unable to download the media sent by the business.",
    ),
    (
        131056,
        "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
    ),
    (
        132000,
        "Number of parameters does not match the expected number of params",
        "The number of variable parameter values included in the request did not match the number of variable parameters defined in the template.",
    ),
    (
        132001,
        "Template name does not exist in the translation",
        "The template does not exist in the specified language or the template has not been approved.",
    ),
    (
        132005,
        "Translated text too long",
        "Translated text is too long. Check the template's translation in WhatsApp Manager.",
    ),
    (
        132012,
        "Parameter format does not match format in the created template",
        "Variable parameter values formatted incorrectly.",
    ),
    (
        132018,
        "There was an issue with the parameters in your template.",
        "Param text cannot have new-line/tab characters or more than 4 consecutive spaces",
    ),
];

const INVALID_TOKEN: &str = "Invalid OAuth access token - Cannot parse access token";
const TOKEN_CODE: i64 = 190;

/// Meta's title and details for `code`, if the fake knows it.
pub fn error_wording(code: i64) -> Option<(&'static str, &'static str)> {
    ERRORS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, title, details)| (*title, *details))
}

/// A message the fake accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// The `wamid.…` it answered.
    pub id: String,
    /// `to` as the request gave it.
    pub to: String,
    /// Its digits (the `wa_id` and the statuses' `recipient_id`).
    pub wa_id: String,
    /// `text`, `image` or `template`.
    pub kind: String,
    /// The text body, the caption (empty if none) or the rendered template
    /// body (placeholders filled).
    pub text: String,
    /// The text's `preview_url`.
    pub preview_url: bool,
    /// The image's (or template header image's) link or media id.
    pub image: Option<String>,
    /// The template's name and language code.
    pub template: Option<(String, String)>,
    /// The rendered template text header.
    pub header: Option<String>,
    /// The template's body parameters.
    pub params: Vec<String>,
    /// When it was accepted, on the fake's clock, since the fake started.
    pub at: Duration,
    /// The API version of the request, e.g. `v21.0`.
    pub version: String,
    /// The code of the `failed` status it gets after `sent` (closed window
    /// 131047, unknown media 131053, or [`FakeWhatsApp::fail_late`]).
    pub fails_with: Option<i64>,
}

/// A template's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateHeader {
    /// A text, with at most one placeholder `{{1}}`.
    Text(String),
    /// An image, given as one `image` parameter when sending.
    Image,
}

#[derive(Debug, Clone)]
struct Template {
    header: Option<TemplateHeader>,
    body: String,
    params: usize,
}

#[derive(Debug, Clone)]
struct Media {
    bytes: Vec<u8>,
    mime: String,
    sha256: String,
}

/// What the next send to a number meets.
#[derive(Debug, Clone, Copy)]
enum Injected {
    Code(i64),
    Http(u16),
}

/// The fake's clock, as time since the start: runs with real time unless
/// frozen, and moves forward on demand.
struct Clock {
    base: Duration,
    since: Instant,
    frozen: bool,
}

impl Clock {
    fn now(&self) -> Duration {
        if self.frozen {
            self.base
        } else {
            self.base + self.since.elapsed()
        }
    }
}

/// A webhook post waiting for the delivery thread.
struct Delivery {
    url: String,
    body: Vec<u8>,
    signature: String,
    not_before: Instant,
}

struct State {
    /// The fake's own base URL, for media download URLs.
    base_url: String,
    phone_number_id: String,
    token: String,
    app_secret: String,
    /// When the token expired (unix seconds), while it is expired.
    token_expired_at: Option<i64>,
    templates: HashMap<(String, String), Template>,
    media: HashMap<String, Media>,
    /// Download URL tokens: media id and when the URL stops working.
    media_urls: HashMap<String, (String, Duration)>,
    media_url_ttl: Duration,
    /// When each number last wrote.
    windows: HashMap<String, Duration>,
    /// When the last accepted message to each number was.
    last_to: HashMap<String, Duration>,
    /// Accepted messages in the last second.
    recent: VecDeque<Duration>,
    per_second: usize,
    pair_spacing: Duration,
    fail_next: HashMap<String, VecDeque<Injected>>,
    fail_late: HashMap<String, VecDeque<i64>>,
    sent: Vec<Sent>,
    refused: HashMap<i64, u64>,
    calls: u64,
    webhook: Option<String>,
    auto_delivered: bool,
    status_delay: Duration,
    webhook_posts: u64,
    webhook_failures: u64,
    webhooks_pending: usize,
    deliveries: Option<mpsc::Sender<Delivery>>,
    /// Conversation id and expiry per number and category.
    conversations: HashMap<(String, &'static str), (String, Duration)>,
    profile_names: HashMap<String, String>,
    last_inbound_id: Option<String>,
    /// Ids of the inbound messages the helpers made.
    inbound_ids: HashSet<String>,
    /// Inbound messages marked as read, in order.
    marked_read: Vec<String>,
    next_id: u64,
    clock: Clock,
    started_unix: i64,
}

impl State {
    fn now(&self) -> Duration {
        self.clock.now()
    }

    /// Unix seconds at `at` on the fake's clock.
    fn unix(&self, at: Duration) -> i64 {
        self.started_unix + at.as_secs() as i64
    }

    fn window_open(&self, wa_id: &str, now: Duration) -> bool {
        self.windows
            .get(wa_id)
            .is_some_and(|wrote| now.saturating_sub(*wrote) < WINDOW)
    }

    /// A fresh, unique `wamid.…`, shaped like Meta's (base64 of a binary
    /// record holding the number).
    fn new_wamid(&mut self, wa_id: &str) -> String {
        self.next_id += 1;
        let mut raw = vec![0x1c, 0x18, wa_id.len() as u8];
        raw.extend_from_slice(wa_id.as_bytes());
        raw.extend_from_slice(&[0x15, 0x02, 0x00, 0x11, 0x18, 0x12]);
        let unique = format!(
            "{:08X}{:010X}",
            self.next_id,
            rand::random::<u64>() & 0xff_ffff_ffff
        );
        raw.extend_from_slice(unique.as_bytes());
        raw.push(0);
        format!(
            "wamid.{}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    fn metadata(&self) -> Value {
        json!({
            "display_phone_number": DISPLAY_PHONE_NUMBER,
            "phone_number_id": self.phone_number_id,
        })
    }

    /// The webhook envelope around a change's `value`.
    fn envelope(&self, mut value: Value) -> Value {
        value["messaging_product"] = json!("whatsapp");
        value["metadata"] = self.metadata();
        json!({
            "object": "whatsapp_business_account",
            "entry": [{
                "id": WABA_ID,
                "changes": [{"field": "messages", "value": value}]
            }]
        })
    }

    fn sign(&self, body: &[u8]) -> String {
        sign_with(&self.app_secret, body)
    }
}

struct Shared {
    state: Mutex<State>,
    stopped: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake WhatsApp Cloud API; stopped on drop.
pub struct FakeWhatsApp {
    shared: Arc<Shared>,
    url: String,
    system: actix_web::rt::System,
}

impl FakeWhatsApp {
    /// Starts a fake for the business number `phone_number_id`, reached
    /// with `token`, signing webhooks with `app_secret`, on a free loopback
    /// port.
    pub fn start(phone_number_id: &str, token: &str, app_secret: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake WhatsApp API");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let (tx, rx) = mpsc::channel();
        let started_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                base_url: url.clone(),
                phone_number_id: phone_number_id.to_owned(),
                token: token.to_owned(),
                app_secret: app_secret.to_owned(),
                token_expired_at: None,
                templates: HashMap::new(),
                media: HashMap::new(),
                media_urls: HashMap::new(),
                media_url_ttl: DEFAULT_MEDIA_URL_TTL,
                windows: HashMap::new(),
                last_to: HashMap::new(),
                recent: VecDeque::new(),
                per_second: DEFAULT_PER_SECOND,
                pair_spacing: DEFAULT_PAIR_SPACING,
                fail_next: HashMap::new(),
                fail_late: HashMap::new(),
                sent: Vec::new(),
                refused: HashMap::new(),
                calls: 0,
                webhook: None,
                auto_delivered: true,
                status_delay: Duration::ZERO,
                webhook_posts: 0,
                webhook_failures: 0,
                webhooks_pending: 0,
                deliveries: Some(tx),
                conversations: HashMap::new(),
                profile_names: HashMap::new(),
                last_inbound_id: None,
                inbound_ids: HashSet::new(),
                marked_read: Vec::new(),
                next_id: 0,
                clock: Clock {
                    base: Duration::ZERO,
                    since: Instant::now(),
                    frozen: false,
                },
                started_unix,
            }),
            stopped: AtomicBool::new(false),
        });
        let deliverer = shared.clone();
        std::thread::Builder::new()
            .name("fake-whatsapp-webhooks".into())
            .spawn(move || deliver_webhooks(&deliverer, rx))
            .expect("spawn the fake WhatsApp webhook thread");
        let (tx, rx) = mpsc::channel();
        let data = web::Data::from(shared.clone());
        std::thread::Builder::new()
            .name("fake-whatsapp".into())
            .spawn(move || {
                let system = actix_web::rt::System::new();
                let _ = tx.send(actix_web::rt::System::current());
                system.block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(data.clone())
                            .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                            .default_service(web::to(handle))
                    })
                    .workers(2)
                    .disable_signals()
                    .listen(listener)
                    .expect("listen")
                    .run();
                    let _ = server.await;
                });
            })
            .expect("spawn the fake WhatsApp API");
        let system = rx.recv().expect("the fake WhatsApp API started");
        Self {
            shared,
            url,
            system,
        }
    }

    /// The base URL (`http://127.0.0.1:PORT`), before the version segment.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    // --- The account -----------------------------------------------------

    /// Makes the (right) token answer 401 code 190 subcode 463 "Session has
    /// expired" until [`FakeWhatsApp::restore_token`].
    pub fn expire_token(&self) {
        let mut s = self.lock();
        let now = s.now();
        s.token_expired_at = Some(s.unix(now));
    }

    /// Makes the token valid again.
    pub fn restore_token(&self) {
        self.lock().token_expired_at = None;
    }

    /// Registers an approved template; `body` holds the placeholders `{{1}}`,
    /// `{{2}}`, … (numbered from 1 without gaps).
    pub fn add_template(&self, name: &str, language: &str, body: &str) {
        self.register(name, language, None, body);
    }

    /// Registers an approved template with a header.
    pub fn add_template_with_header(
        &self,
        name: &str,
        language: &str,
        header: TemplateHeader,
        body: &str,
    ) {
        if let TemplateHeader::Text(text) = &header {
            assert!(
                param_count(text) <= 1,
                "a text header has at most one placeholder: {text:?}"
            );
        }
        self.register(name, language, Some(header), body);
    }

    fn register(&self, name: &str, language: &str, header: Option<TemplateHeader>, body: &str) {
        let template = Template {
            header,
            body: body.to_owned(),
            params: param_count(body),
        };
        self.lock()
            .templates
            .insert((name.to_owned(), language.to_owned()), template);
    }

    /// Serves `bytes` as the media `media_id` (`GET /{ver}/{media_id}`).
    pub fn add_media(&self, media_id: &str, bytes: Vec<u8>, mime: &str) {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        self.lock().media.insert(
            media_id.to_owned(),
            Media {
                bytes,
                mime: mime.to_owned(),
                sha256,
            },
        );
    }

    // --- Limits and clock --------------------------------------------------

    /// Accepted messages allowed in any second (default 80).
    pub fn set_per_second(&self, n: usize) {
        self.lock().per_second = n;
    }

    /// Least time between two messages to one number (default 6 s).
    pub fn set_pair_spacing(&self, spacing: Duration) {
        self.lock().pair_spacing = spacing;
    }

    /// How long a media download URL works (default 5 minutes).
    pub fn set_media_url_ttl(&self, ttl: Duration) {
        self.lock().media_url_ttl = ttl;
    }

    /// Time since the fake started, on the clock of [`Sent::at`].
    pub fn elapsed(&self) -> Duration {
        self.lock().now()
    }

    /// Moves the fake's clock forward: windows close, media URLs expire,
    /// pair spacing and the throughput second pass.
    pub fn advance(&self, by: Duration) {
        self.lock().clock.base += by;
    }

    /// Stops the fake's clock (only [`FakeWhatsApp::advance`] moves it), so
    /// that limits do not depend on how fast the machine is.
    pub fn freeze_clock(&self) {
        let mut s = self.lock();
        s.clock.base = s.clock.now();
        s.clock.frozen = true;
    }

    /// Lets the fake's clock run with real time again, from where it stood.
    pub fn unfreeze_clock(&self) {
        let mut s = self.lock();
        if s.clock.frozen {
            s.clock.since = Instant::now();
            s.clock.frozen = false;
        }
    }

    // --- The customer-service window ---------------------------------------

    /// Opens `to`'s window as if they had written now.
    pub fn open_window(&self, to: &str) {
        let mut s = self.lock();
        let now = s.now();
        s.windows.insert(wa_id(to), now);
    }

    /// Closes `to`'s window (as if they had never written).
    pub fn close_window(&self, to: &str) {
        self.lock().windows.remove(&wa_id(to));
    }

    /// Whether free-form messages to `to` are delivered now.
    pub fn window_open(&self, to: &str) -> bool {
        let s = self.lock();
        s.window_open(&wa_id(to), s.now())
    }

    // --- Injected failures -------------------------------------------------

    /// Answers the next send to `to` with the error `code` (HTTP 400 and
    /// Meta's wording from [`ERRORS`]; 190 is the 401 token error). Calls
    /// queue up. Panics for a code the fake does not know.
    pub fn fail_next(&self, to: &str, code: i64) {
        assert!(
            code == TOKEN_CODE || error_wording(code).is_some(),
            "the fake WhatsApp knows no error code {code}"
        );
        self.inject(to, Injected::Code(code));
    }

    /// Answers the next send to `to` with HTTP `status`: 503 as code 2
    /// "Service temporarily unavailable", anything else as code 1 "An
    /// unknown error has occurred.", both `is_transient`.
    pub fn fail_next_http(&self, to: &str, status: u16) {
        assert!(
            StatusCode::from_u16(status).is_ok(),
            "no HTTP status {status}"
        );
        self.inject(to, Injected::Http(status));
    }

    fn inject(&self, to: &str, what: Injected) {
        self.lock()
            .fail_next
            .entry(wa_id(to))
            .or_default()
            .push_back(what);
    }

    /// Makes the next accepted message to `to` fail later: `sent`, then a
    /// `failed` status with `code`. Panics for a code the fake does not know.
    pub fn fail_late(&self, to: &str, code: i64) {
        assert!(
            error_wording(code).is_some(),
            "the fake WhatsApp knows no error code {code}"
        );
        self.lock()
            .fail_late
            .entry(wa_id(to))
            .or_default()
            .push_back(code);
    }

    // --- Webhooks ----------------------------------------------------------

    /// From now on, posts the statuses of accepted messages to `url`
    /// (http only).
    pub fn set_webhook(&self, url: &str) {
        self.lock().webhook = Some(url.to_owned());
    }

    /// Stops posting statuses.
    pub fn clear_webhook(&self) {
        self.lock().webhook = None;
    }

    /// The webhook URL, if one is set.
    pub fn webhook(&self) -> Option<String> {
        self.lock().webhook.clone()
    }

    /// Whether `delivered` follows `sent` by itself (default true).
    pub fn set_auto_delivered(&self, yes: bool) {
        self.lock().auto_delivered = yes;
    }

    /// How long after a message's acceptance its statuses are posted
    /// (default none: they may arrive before the send's answer).
    pub fn set_status_delay(&self, delay: Duration) {
        self.lock().status_delay = delay;
    }

    /// The name in the `contacts` of `from`'s inbound messages.
    pub fn set_profile_name(&self, from: &str, name: &str) {
        self.lock()
            .profile_names
            .insert(wa_id(from), name.to_owned());
    }

    /// An inbound message webhook payload from `from`, of type `kind` with
    /// `content` under that key (for `unsupported`, `content` is the
    /// `errors` array, or Meta's default when not an array). Opens `from`'s
    /// window at the fake's now. Its id (`entry[0].changes[0].value.
    /// messages[0].id`) is also [`FakeWhatsApp::last_inbound_id`].
    pub fn message(&self, from: &str, kind: &str, content: Value) -> Value {
        let from = wa_id(from);
        let mut s = self.lock();
        let now = s.now();
        s.windows.insert(from.clone(), now);
        let id = s.new_wamid(&from);
        s.last_inbound_id = Some(id.clone());
        s.inbound_ids.insert(id.clone());
        let mut message = json!({
            "from": from,
            "id": id,
            "timestamp": s.unix(now).to_string(),
            "type": kind,
        });
        if kind == "unsupported" {
            message["errors"] = if content.is_array() {
                content
            } else {
                json!([{
                    "code": 131051,
                    "title": "Message type unknown",
                    "message": "Message type unknown",
                    "error_data": {"details": "Message type is currently not supported."}
                }])
            };
        } else {
            message[kind] = content;
        }
        let name = s
            .profile_names
            .get(&from)
            .cloned()
            .unwrap_or_else(|| DEFAULT_PROFILE_NAME.to_owned());
        s.envelope(json!({
            "contacts": [{"profile": {"name": name}, "wa_id": from}],
            "messages": [message],
        }))
    }

    /// An inbound text message payload from `from`.
    pub fn text_message(&self, from: &str, text: &str) -> Value {
        self.message(from, "text", json!({ "body": text }))
    }

    /// An inbound image payload from `from` showing the media `media_id`.
    pub fn image_message(&self, from: &str, media_id: &str, caption: Option<&str>) -> Value {
        let mut image = self.media_object(media_id);
        if let Some(c) = caption {
            image["caption"] = json!(c);
        }
        self.message(from, "image", image)
    }

    /// `{"id","mime_type","sha256"}` of the media `media_id`, as inbound
    /// messages carry it (`image/jpeg` and the empty hash when unknown).
    pub fn media_object(&self, media_id: &str) -> Value {
        let s = self.lock();
        let (mime, sha256) = s.media.get(media_id).map_or_else(
            || ("image/jpeg".to_owned(), hex::encode(Sha256::digest(b""))),
            |m| (m.mime.clone(), m.sha256.clone()),
        );
        json!({"id": media_id, "mime_type": mime, "sha256": sha256})
    }

    /// The id of the last inbound message made by the helpers.
    pub fn last_inbound_id(&self) -> Option<String> {
        self.lock().last_inbound_id.clone()
    }

    /// A status webhook payload for the accepted message `message_id`:
    /// `sent`, `delivered`, `read` or `failed` (with `error_code`, default
    /// 131000). Panics for an unknown message or error code.
    pub fn status(&self, message_id: &str, status: &str, error_code: Option<i64>) -> Value {
        let mut s = self.lock();
        let sent = find_sent(&s, message_id);
        let now = s.now();
        status_payload(&mut s, &sent, status, error_code, now)
    }

    /// Posts a status of `message_id` to the webhook, after the ones queued.
    pub fn push_status(&self, message_id: &str, status: &str, error_code: Option<i64>) {
        let mut s = self.lock();
        assert!(s.webhook.is_some(), "no webhook set");
        let sent = find_sent(&s, message_id);
        let now = s.now();
        let payload = status_payload(&mut s, &sent, status, error_code, now);
        enqueue(&mut s, &payload);
    }

    /// Posts a `delivered` status of `message_id` to the webhook.
    pub fn deliver(&self, message_id: &str) {
        self.push_status(message_id, "delivered", None);
    }

    /// Posts a `read` status of `message_id` to the webhook.
    pub fn read(&self, message_id: &str) {
        self.push_status(message_id, "read", None);
    }

    /// The `X-Hub-Signature-256` value of `body`: `sha256=<hex>`.
    pub fn sign(&self, body: &[u8]) -> String {
        self.lock().sign(body)
    }

    /// Posts `payload` to `url`, signed; returns the HTTP status. Blocks.
    pub fn post(&self, url: &str, payload: &Value) -> u16 {
        let body = serde_json::to_vec(payload).expect("serialize the payload");
        let signature = self.sign(&body);
        self.post_signed_with(url, &body, Some(&signature))
    }

    /// Posts `body` to `url` with this `X-Hub-Signature-256` (none if
    /// `None`); returns the HTTP status. Blocks. For forged signatures.
    pub fn post_signed_with(&self, url: &str, body: &[u8], signature: Option<&str>) -> u16 {
        http_post(url, body, signature).unwrap_or_else(|e| panic!("POST {url}: {e}"))
    }

    /// Posts `payload` to the webhook set, signed; returns the HTTP status.
    pub fn push(&self, payload: &Value) -> u16 {
        let url = self.webhook().expect("no webhook set");
        self.post(&url, payload)
    }

    /// Status posts made by the fake itself.
    pub fn webhook_posts(&self) -> u64 {
        self.lock().webhook_posts
    }

    /// Status posts the receiver answered with other than 2xx, or not at all.
    pub fn webhook_failures(&self) -> u64 {
        self.lock().webhook_failures
    }

    /// Status posts queued and not yet made.
    pub fn webhooks_pending(&self) -> usize {
        self.lock().webhooks_pending
    }

    /// Waits until every queued status is posted; panics after `within`.
    pub fn flush_webhooks(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.webhooks_pending() > 0 {
            assert!(
                Instant::now() < deadline,
                "{} status posts still queued after {within:?}",
                self.webhooks_pending()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    // --- Inspection --------------------------------------------------------

    /// Every accepted message, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.lock().sent.clone()
    }

    /// The accepted messages to `to` (with or without `+`).
    pub fn sent_to(&self, to: &str) -> Vec<Sent> {
        let digits = wa_id(to);
        self.lock()
            .sent
            .iter()
            .filter(|m| m.wa_id == digits)
            .cloned()
            .collect()
    }

    /// Sends answered with the error `code` (130429, 131056, 100, 190, …;
    /// 1 and 2 for injected HTTP failures).
    pub fn refused(&self, code: i64) -> u64 {
        self.lock().refused.get(&code).copied().unwrap_or(0)
    }

    /// Requests to the messages endpoint, whatever their answer.
    pub fn calls(&self) -> u64 {
        self.lock().calls
    }

    /// The inbound messages marked as read (`"status":"read"`), in order.
    pub fn marked_read(&self) -> Vec<String> {
        self.lock().marked_read.clone()
    }
}

impl Drop for FakeWhatsApp {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.lock().deliveries = None;
        self.system.stop();
    }
}

/// The digits of a phone number given with or without `+` (panics on
/// anything else: a test's own mistake).
fn wa_id(number: &str) -> String {
    phone_digits(number).unwrap_or_else(|| panic!("not a phone number: {number:?}"))
}

/// `to` as WhatsApp reads it: an optional `+`, then 8–15 digits.
fn phone_digits(to: &str) -> Option<String> {
    let digits = to.strip_prefix('+').unwrap_or(to);
    ((8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.to_owned())
}

fn sign_with(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn fbtrace_id() -> String {
    let tail: String = rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(22)
        .map(char::from)
        .collect();
    format!("A{tail}")
}

fn is_version(segment: &str) -> bool {
    let Some((major, minor)) = segment
        .strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
    else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(major) && digits(minor)
}

// --- Errors ------------------------------------------------------------------

/// A Graph API error answer.
#[derive(Debug, Clone)]
struct ApiError {
    status: u16,
    code: i64,
    message: String,
    kind: &'static str,
    subcode: Option<i64>,
    details: Option<String>,
    transient: bool,
}

impl ApiError {
    /// HTTP 400 `(#code) title` with `details`.
    fn coded(code: i64, details: impl Into<String>) -> Self {
        let (title, _) = error_wording(code).unwrap_or(("Unknown error", ""));
        Self {
            status: 400,
            code,
            message: format!("(#{code}) {title}"),
            kind: "OAuthException",
            subcode: None,
            details: Some(details.into()),
            transient: false,
        }
    }

    /// `code` with Meta's own details (190: the token error).
    fn known(code: i64) -> Self {
        if code == TOKEN_CODE {
            return Self::invalid_token();
        }
        let (_, details) = error_wording(code).unwrap_or(("", ""));
        Self::coded(code, details)
    }

    /// "(#100) Invalid parameter" naming what was wrong.
    fn invalid(details: impl Into<String>) -> Self {
        Self::coded(100, details)
    }

    fn invalid_token() -> Self {
        Self {
            status: 401,
            code: TOKEN_CODE,
            message: INVALID_TOKEN.to_owned(),
            kind: "OAuthException",
            subcode: None,
            details: None,
            transient: false,
        }
    }

    fn expired_token(expired_at: i64, now: i64) -> Self {
        Self {
            message: format!(
                "Error validating access token: Session has expired on {}. The current time is {}.",
                meta_time(expired_at),
                meta_time(now)
            ),
            subcode: Some(463),
            ..Self::invalid_token()
        }
    }

    /// An id that names nothing this token may `verb` (`post`, `get`).
    fn no_object(verb: &str, id: &str) -> Self {
        Self {
            status: 400,
            code: 100,
            message: format!(
                "Unsupported {verb} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
            kind: "GraphMethodException",
            subcode: Some(33),
            details: None,
            transient: false,
        }
    }

    fn unknown_path(path: &str) -> Self {
        Self {
            status: 400,
            code: 2500,
            message: format!("Unknown path components: {path}"),
            kind: "OAuthException",
            subcode: None,
            details: None,
            transient: false,
        }
    }

    /// An injected server failure.
    fn http(status: u16) -> Self {
        let (code, message) = if status == 503 {
            (2, "Service temporarily unavailable")
        } else {
            (1, "An unknown error has occurred.")
        };
        Self {
            status,
            code,
            message: message.to_owned(),
            kind: "OAuthException",
            subcode: None,
            details: None,
            transient: true,
        }
    }

    fn response(&self) -> HttpResponse {
        let mut error = json!({"message": self.message, "type": self.kind, "code": self.code});
        if let Some(sub) = self.subcode {
            error["error_subcode"] = json!(sub);
        }
        if self.transient {
            error["is_transient"] = json!(true);
        }
        if let Some(details) = &self.details {
            error["error_data"] = json!({"messaging_product": "whatsapp", "details": details});
        }
        error["fbtrace_id"] = json!(fbtrace_id());
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut answer = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            answer.insert_header((
                "WWW-Authenticate",
                format!(
                    "OAuth \"Facebook Platform\" \"invalid_token\" \"{}\"",
                    self.message
                ),
            ));
        }
        answer.json(json!({ "error": error }))
    }
}

/// Unix seconds as Meta writes them in token errors (Pacific time).
fn meta_time(unix: i64) -> String {
    let pacific = chrono::FixedOffset::west_opt(7 * 3600).expect("a valid offset");
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| {
            t.with_timezone(&pacific)
                .format("%A, %d-%b-%y %H:%M:%S PDT")
                .to_string()
        })
        .unwrap_or_default()
}

// --- Requests ----------------------------------------------------------------

async fn handle(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let path = req.path().to_owned();
    if let Some(media_id) = path.strip_prefix("/media-download/") {
        return download(&shared, &req, media_id);
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let answer = match segments.as_slice() {
        [version, phone, "messages"] if is_version(version) && req.method() == Method::POST => {
            Ok(send(&shared, version, phone, &req, &body))
        }
        [version, id] if is_version(version) && req.method() == Method::GET => {
            get_object(&shared, &req, id)
        }
        [version, id, ..] if is_version(version) && !id.is_empty() => Err(ApiError::no_object(
            &req.method().as_str().to_ascii_lowercase(),
            id,
        )),
        _ => Err(ApiError::unknown_path(&path)),
    };
    answer.unwrap_or_else(|e| e.response())
}

fn query_param(req: &HttpRequest, key: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The bearer token, or (if `query_too`) the `access_token` parameter.
fn given_token(req: &HttpRequest, query_too: bool) -> Option<String> {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    header.or_else(|| {
        query_too
            .then(|| query_param(req, "access_token"))
            .flatten()
    })
}

fn authorize(s: &State, req: &HttpRequest, query_too: bool) -> Result<(), ApiError> {
    if given_token(req, query_too).as_deref() != Some(s.token.as_str()) {
        return Err(ApiError::invalid_token());
    }
    match s.token_expired_at {
        Some(at) => Err(ApiError::expired_token(at, s.unix(s.now()))),
        None => Ok(()),
    }
}

/// `POST /{ver}/{phone_number_id}/messages`.
fn send(
    shared: &Shared,
    version: &str,
    phone_id: &str,
    req: &HttpRequest,
    body: &[u8],
) -> HttpResponse {
    let mut s = shared.lock();
    s.calls += 1;
    match accept(&mut s, version, phone_id, req, body) {
        Ok(answer) => HttpResponse::Ok().json(answer),
        Err(e) => {
            *s.refused.entry(e.code).or_default() += 1;
            e.response()
        }
    }
}

/// Checks a send in Meta's order and records it.
fn accept(
    s: &mut State,
    version: &str,
    phone_id: &str,
    req: &HttpRequest,
    body: &[u8],
) -> Result<Value, ApiError> {
    authorize(s, req, true)?;
    if phone_id != s.phone_number_id {
        return Err(ApiError::no_object("post", phone_id));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::invalid("the request body must be a JSON object"))?;
    let o = value
        .as_object()
        .ok_or_else(|| ApiError::invalid("the request body must be a JSON object"))?;
    if o.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return Err(ApiError::invalid(
            "messaging_product is required and must be \"whatsapp\"",
        ));
    }
    if o.contains_key("status") {
        return mark_read(s, o);
    }
    let request = parse_request(o)?;
    let content = resolve(s, &request.content)?;
    if let Some(injected) = s
        .fail_next
        .get_mut(&request.wa_id)
        .and_then(VecDeque::pop_front)
    {
        return Err(match injected {
            Injected::Code(code) => ApiError::known(code),
            Injected::Http(status) => ApiError::http(status),
        });
    }
    let now = s.now();
    admit(s, &request.wa_id, now)?;
    Ok(record(s, version, request, content, now))
}

/// The throughput and pair-rate limits, on accepted messages.
fn admit(s: &mut State, wa_id: &str, now: Duration) -> Result<(), ApiError> {
    let second = Duration::from_secs(1);
    while s
        .recent
        .front()
        .is_some_and(|t| now.saturating_sub(*t) >= second)
    {
        s.recent.pop_front();
    }
    if s.recent.len() >= s.per_second {
        return Err(ApiError::known(130429));
    }
    if let Some(last) = s.last_to.get(wa_id) {
        if now.saturating_sub(*last) < s.pair_spacing {
            return Err(ApiError::known(131056));
        }
    }
    s.recent.push_back(now);
    s.last_to.insert(wa_id.to_owned(), now);
    Ok(())
}

/// Records an accepted message, queues its statuses and gives the answer.
fn record(
    s: &mut State,
    version: &str,
    request: Request,
    content: Rendered,
    now: Duration,
) -> Value {
    let id = s.new_wamid(&request.wa_id);
    let is_template = content.kind == "template";
    let unknown_media = content
        .media_id
        .as_ref()
        .is_some_and(|m| !s.media.contains_key(m));
    let fails_with = s
        .fail_late
        .get_mut(&request.wa_id)
        .and_then(VecDeque::pop_front)
        .or_else(|| (!is_template && !s.window_open(&request.wa_id, now)).then_some(131047))
        .or_else(|| unknown_media.then_some(131053));
    let sent = Sent {
        id: id.clone(),
        to: request.to.clone(),
        wa_id: request.wa_id.clone(),
        kind: content.kind.to_owned(),
        text: content.text,
        preview_url: content.preview_url,
        image: content.image,
        template: content.template,
        header: content.header,
        params: content.params,
        at: now,
        version: version.to_owned(),
        fails_with,
    };
    s.sent.push(sent.clone());
    announce(s, &sent, now);
    let mut message = json!({ "id": id });
    if is_template {
        message["message_status"] = json!("accepted");
    }
    json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": request.to, "wa_id": request.wa_id}],
        "messages": [message],
    })
}

/// `GET /{ver}/{id}`: the business number or a media's metadata.
fn get_object(shared: &Shared, req: &HttpRequest, id: &str) -> Result<HttpResponse, ApiError> {
    let mut s = shared.lock();
    authorize(&s, req, true)?;
    if id == s.phone_number_id {
        return Ok(HttpResponse::Ok().json(json!({
            "verified_name": "Herold Test",
            "code_verification_status": "VERIFIED",
            "display_phone_number": DISPLAY_PHONE_NUMBER,
            "quality_rating": "GREEN",
            "platform_type": "CLOUD_API",
            "throughput": {"level": "STANDARD"},
            "id": id,
        })));
    }
    let Some(media) = s.media.get(id).cloned() else {
        return Err(ApiError::no_object("get", id));
    };
    let token = format!("{:032x}", rand::random::<u128>());
    let expires = s.now() + s.media_url_ttl;
    s.media_urls.insert(token.clone(), (id.to_owned(), expires));
    Ok(HttpResponse::Ok().json(json!({
        "messaging_product": "whatsapp",
        "url": format!("{}/media-download/{id}?token={token}", s.base_url),
        "mime_type": media.mime,
        "sha256": media.sha256,
        "file_size": media.bytes.len(),
        "id": id,
    })))
}

/// `GET /media-download/{id}?token=…`: the bytes, with the bearer token,
/// while the URL lives.
fn download(shared: &Shared, req: &HttpRequest, media_id: &str) -> HttpResponse {
    let s = shared.lock();
    if let Err(e) = authorize(&s, req, false) {
        return e.response();
    }
    let now = s.now();
    let live = query_param(req, "token")
        .and_then(|t| s.media_urls.get(&t).cloned())
        .is_some_and(|(id, expires)| id == media_id && now < expires);
    match s.media.get(media_id).filter(|_| live) {
        Some(m) => HttpResponse::Ok()
            .content_type(m.mime.as_str())
            .body(m.bytes.clone()),
        None => HttpResponse::NotFound().finish(),
    }
}

// --- Message shape -------------------------------------------------------------

/// A send request of the right shape.
struct Request {
    to: String,
    wa_id: String,
    content: Content,
}

enum MediaRef {
    Link(String),
    Id(String),
}

impl MediaRef {
    fn as_str(&self) -> &str {
        match self {
            MediaRef::Link(s) | MediaRef::Id(s) => s,
        }
    }
}

enum Param {
    Text(String),
    Image(MediaRef),
}

enum Content {
    Text {
        body: String,
        preview_url: bool,
    },
    Image {
        media: MediaRef,
        caption: Option<String>,
    },
    Template {
        name: String,
        language: String,
        header: Option<Vec<Param>>,
        body: Vec<Param>,
    },
}

/// What a send puts in [`Sent`].
struct Rendered {
    kind: &'static str,
    text: String,
    preview_url: bool,
    image: Option<String>,
    media_id: Option<String>,
    template: Option<(String, String)>,
    header: Option<String>,
    params: Vec<String>,
}

type Object = Map<String, Value>;

/// A read receipt for an inbound message:
/// `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.…"}`.
fn mark_read(s: &mut State, o: &Object) -> Result<Value, ApiError> {
    if o.get("status").and_then(Value::as_str) != Some("read") {
        return Err(ApiError::invalid("status must be \"read\""));
    }
    let id = o
        .get("message_id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("message_id is required and must be a string"))?;
    if !s.inbound_ids.contains(id) {
        return Err(ApiError::invalid(format!(
            "message_id {id} is not a message this number received"
        )));
    }
    s.marked_read.push(id.to_owned());
    Ok(json!({ "success": true }))
}

/// A message to send, after `messaging_product` was checked.
fn parse_request(o: &Object) -> Result<Request, ApiError> {
    if o.get("recipient_type")
        .is_some_and(|r| r.as_str() != Some("individual"))
    {
        return Err(ApiError::invalid("recipient_type must be \"individual\""));
    }
    let to = o
        .get("to")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("to is required and must be a string"))?;
    let wa_id = phone_digits(to).ok_or_else(|| {
        ApiError::invalid(format!(
            "to must be a phone number of 8 to 15 digits, optionally after +, got {to:?}"
        ))
    })?;
    let kind = match o.get("type") {
        None => "text",
        Some(Value::String(t)) => t.as_str(),
        Some(_) => return Err(ApiError::invalid("type must be a string")),
    };
    let content = match kind {
        "text" => parse_text(o.get("text"))?,
        "image" => parse_image(o.get("image"))?,
        "template" => parse_template(o.get("template"))?,
        other => {
            return Err(ApiError::invalid(format!(
                "type must be one of text, image, template, got {other:?}"
            )))
        }
    };
    Ok(Request {
        to: to.to_owned(),
        wa_id,
        content,
    })
}

fn object<'a>(value: Option<&'a Value>, what: &str) -> Result<&'a Object, ApiError> {
    value
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::invalid(format!("{what} is required and must be an object")))
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn parse_text(value: Option<&Value>) -> Result<Content, ApiError> {
    let t = object(value, "text")?;
    let body = t
        .get("body")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("text.body is required and must be a string"))?;
    if body.is_empty() {
        return Err(ApiError::invalid("text.body must not be empty"));
    }
    if chars(body) > MAX_TEXT {
        return Err(ApiError::invalid(format!(
            "text.body must be at most {MAX_TEXT} characters long, got {}",
            chars(body)
        )));
    }
    let preview_url = match t.get("preview_url") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::invalid("text.preview_url must be a boolean")),
    };
    Ok(Content::Text {
        body: body.to_owned(),
        preview_url,
    })
}

/// An image given by `link` (http/https) or `id`, not both.
fn media_ref(o: &Object, what: &str) -> Result<MediaRef, ApiError> {
    match (o.get("link"), o.get("id")) {
        (Some(_), Some(_)) => Err(ApiError::invalid(format!(
            "{what}: give either link or id, not both"
        ))),
        (Some(link), None) => link
            .as_str()
            .filter(|l| {
                url::Url::parse(l)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            })
            .map(|l| MediaRef::Link(l.to_owned()))
            .ok_or_else(|| ApiError::invalid(format!("{what}.link must be an http(s) URL"))),
        (None, Some(id)) => id
            .as_str()
            .filter(|i| !i.is_empty())
            .map(|i| MediaRef::Id(i.to_owned()))
            .ok_or_else(|| ApiError::invalid(format!("{what}.id must be a media id"))),
        (None, None) => Err(ApiError::invalid(format!("{what} needs a link or an id"))),
    }
}

fn parse_image(value: Option<&Value>) -> Result<Content, ApiError> {
    let image = object(value, "image")?;
    let media = media_ref(image, "image")?;
    let caption = match image.get("caption") {
        None => None,
        Some(Value::String(c)) if chars(c) <= MAX_CAPTION => Some(c.clone()),
        Some(Value::String(c)) => {
            return Err(ApiError::invalid(format!(
                "image.caption must be at most {MAX_CAPTION} characters long, got {}",
                chars(c)
            )))
        }
        Some(_) => return Err(ApiError::invalid("image.caption must be a string")),
    };
    Ok(Content::Image { media, caption })
}

fn parse_template(value: Option<&Value>) -> Result<Content, ApiError> {
    let t = object(value, "template")?;
    let name = t
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::invalid("template.name is required and must be a string"))?;
    let language = object(t.get("language"), "template.language")?;
    let code = language
        .get("code")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::invalid("template.language.code is required"))?;
    if language
        .get("policy")
        .is_some_and(|p| p.as_str() != Some("deterministic"))
    {
        return Err(ApiError::invalid(
            "template.language.policy must be \"deterministic\"",
        ));
    }
    let components: &[Value] = match t.get("components") {
        None => &[],
        Some(Value::Array(c)) => c,
        Some(_) => return Err(ApiError::invalid("template.components must be an array")),
    };
    let (mut header, mut body) = (None, None);
    for (i, c) in components.iter().enumerate() {
        let what = format!("template.components[{i}]");
        let c = object(Some(c), &what)?;
        let params = parse_params(c, &what)?;
        let slot = match c.get("type").and_then(Value::as_str) {
            Some("header") => &mut header,
            Some("body") => &mut body,
            _ => {
                return Err(ApiError::invalid(format!(
                    "{what}.type must be header or body"
                )))
            }
        };
        if slot.replace(params).is_some() {
            return Err(ApiError::invalid(format!(
                "{what}: a component type given twice"
            )));
        }
    }
    Ok(Content::Template {
        name: name.to_owned(),
        language: code.to_owned(),
        header,
        body: body.unwrap_or_default(),
    })
}

fn parse_params(component: &Object, what: &str) -> Result<Vec<Param>, ApiError> {
    let params = match component.get("parameters") {
        None => return Ok(Vec::new()),
        Some(Value::Array(p)) => p,
        Some(_) => {
            return Err(ApiError::invalid(format!(
                "{what}.parameters must be an array"
            )))
        }
    };
    params
        .iter()
        .enumerate()
        .map(|(j, p)| {
            let what = format!("{what}.parameters[{j}]");
            let p = object(Some(p), &what)?;
            match p.get("type").and_then(Value::as_str) {
                Some("text") => p
                    .get("text")
                    .and_then(Value::as_str)
                    .map(|t| Param::Text(t.to_owned()))
                    .ok_or_else(|| {
                        ApiError::invalid(format!("{what}.text is required and must be a string"))
                    }),
                Some("image") => Ok(Param::Image(media_ref(
                    object(p.get("image"), &format!("{what}.image"))?,
                    &format!("{what}.image"),
                )?)),
                _ => Err(ApiError::invalid(format!(
                    "{what}.type must be text or image"
                ))),
            }
        })
        .collect()
}

// --- Templates -----------------------------------------------------------------

/// The placeholders `{{n}}` of a template text, in order: byte range and n.
fn placeholders(text: &str) -> Vec<(std::ops::Range<usize>, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(found) = text[i..].find("{{") {
        let start = i + found;
        let rest = &text[start + 2..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && rest[digits..].starts_with("}}") {
            let end = start + 2 + digits + 2;
            out.push((start..end, rest[..digits].parse().unwrap_or(0)));
            i = end;
        } else {
            i = start + 2;
        }
    }
    out
}

/// How many parameters a template text takes; panics unless its
/// placeholders are numbered 1, 2, … without gaps (Meta refuses others).
fn param_count(text: &str) -> usize {
    let mut numbers: Vec<usize> = placeholders(text).into_iter().map(|(_, n)| n).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert!(
        numbers.iter().enumerate().all(|(i, n)| *n == i + 1),
        "template placeholders must be {{{{1}}}}, {{{{2}}}}, … without gaps: {text:?}"
    );
    numbers.len()
}

/// `text` with each `{{n}}` replaced by `params[n - 1]`.
fn fill(text: &str, params: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (range, n) in placeholders(text) {
        out.push_str(&text[at..range.start]);
        out.push_str(params.get(n - 1).map_or("", String::as_str));
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// What a send carries, with templates checked and rendered.
fn resolve(s: &State, content: &Content) -> Result<Rendered, ApiError> {
    let plain = |kind| Rendered {
        kind,
        text: String::new(),
        preview_url: false,
        image: None,
        media_id: None,
        template: None,
        header: None,
        params: Vec::new(),
    };
    match content {
        Content::Text { body, preview_url } => Ok(Rendered {
            text: body.clone(),
            preview_url: *preview_url,
            ..plain("text")
        }),
        Content::Image { media, caption } => Ok(Rendered {
            text: caption.clone().unwrap_or_default(),
            image: Some(media.as_str().to_owned()),
            media_id: match media {
                MediaRef::Id(id) => Some(id.clone()),
                MediaRef::Link(_) => None,
            },
            ..plain("image")
        }),
        Content::Template {
            name,
            language,
            header,
            body,
        } => {
            let template = s
                .templates
                .get(&(name.clone(), language.clone()))
                .ok_or_else(|| {
                    ApiError::coded(
                        132001,
                        format!("template name ({name}) does not exist in {language}"),
                    )
                })?;
            let (header_text, header_image) = render_header(template, header.as_deref())?;
            let params = param_texts(body, template.params, "body")?;
            let text = fill(&template.body, &params);
            if chars(&text) > MAX_TEMPLATE_TEXT {
                return Err(too_long(format!(
                    "body: the rendered text has {} characters, at most {MAX_TEMPLATE_TEXT} are allowed",
                    chars(&text)
                )));
            }
            Ok(Rendered {
                text,
                image: header_image,
                template: Some((name.clone(), language.clone())),
                header: header_text,
                params,
                ..plain("template")
            })
        }
    }
}

fn count_mismatch(component: &str, given: usize, expected: usize) -> ApiError {
    ApiError::coded(
        132000,
        format!(
            "{component}: number of localizable_params ({given}) does not match the expected number of params ({expected})"
        ),
    )
}

fn too_long(details: String) -> ApiError {
    ApiError::coded(132005, details)
}

/// The text parameters of a component, checked: as many as `expected`, all
/// text, none empty, none with a new line, a tab or 5 spaces in a row,
/// none over 1024 characters.
fn param_texts(
    params: &[Param],
    expected: usize,
    component: &str,
) -> Result<Vec<String>, ApiError> {
    if params.len() != expected {
        return Err(count_mismatch(component, params.len(), expected));
    }
    params
        .iter()
        .map(|p| match p {
            Param::Image(_) => Err(ApiError::coded(
                132012,
                format!("{component}: expected a text parameter, got an image"),
            )),
            Param::Text(t) if t.is_empty() => {
                Err(ApiError::coded(132018, "Param text cannot be empty"))
            }
            Param::Text(t) if t.contains(['\n', '\t']) || t.contains("     ") => {
                Err(ApiError::known(132018))
            }
            Param::Text(t) if chars(t) > MAX_TEMPLATE_TEXT => Err(too_long(format!(
                "{component}: a parameter has {} characters, at most {MAX_TEMPLATE_TEXT} are allowed",
                chars(t)
            ))),
            Param::Text(t) => Ok(t.clone()),
        })
        .collect()
}

/// The rendered text header or the header image, checked against the
/// template's header.
fn render_header(
    template: &Template,
    given: Option<&[Param]>,
) -> Result<(Option<String>, Option<String>), ApiError> {
    let given = given.unwrap_or_default();
    match &template.header {
        None if given.is_empty() => Ok((None, None)),
        None => Err(count_mismatch("header", given.len(), 0)),
        Some(TemplateHeader::Text(text)) => {
            let params = param_texts(given, param_count(text), "header")?;
            let rendered = fill(text, &params);
            if chars(&rendered) > MAX_TEMPLATE_HEADER {
                return Err(too_long(format!(
                    "header: the rendered text has {} characters, at most {MAX_TEMPLATE_HEADER} are allowed",
                    chars(&rendered)
                )));
            }
            Ok((Some(rendered), None))
        }
        Some(TemplateHeader::Image) => match given {
            [Param::Image(media)] => Ok((None, Some(media.as_str().to_owned()))),
            [Param::Text(_)] => Err(ApiError::coded(
                132012,
                "header: expected an image parameter, got text",
            )),
            _ => Err(count_mismatch("header", given.len(), 1)),
        },
    }
}

// --- Statuses and webhooks -----------------------------------------------------

fn find_sent(s: &State, message_id: &str) -> Sent {
    s.sent
        .iter()
        .find(|m| m.id == message_id)
        .cloned()
        .unwrap_or_else(|| panic!("the fake WhatsApp accepted no message {message_id}"))
}

/// Queues the statuses of a just accepted message: `sent`, then `failed`
/// or (unless turned off) `delivered`.
fn announce(s: &mut State, sent: &Sent, now: Duration) {
    if s.webhook.is_none() {
        return;
    }
    let first = status_payload(s, sent, "sent", None, now);
    enqueue(s, &first);
    let then = match sent.fails_with {
        Some(code) => Some(status_payload(s, sent, "failed", Some(code), now)),
        None if s.auto_delivered => Some(status_payload(s, sent, "delivered", None, now)),
        None => None,
    };
    if let Some(then) = then {
        enqueue(s, &then);
    }
}

/// A status webhook payload; `conversation` and `pricing` on `sent` and
/// `delivered` of messages that do not fail, `errors` on `failed`.
fn status_payload(
    s: &mut State,
    sent: &Sent,
    status: &str,
    error_code: Option<i64>,
    now: Duration,
) -> Value {
    assert!(
        matches!(status, "sent" | "delivered" | "read" | "failed"),
        "no WhatsApp status {status:?}"
    );
    let mut value = json!({
        "id": sent.id,
        "status": status,
        "timestamp": s.unix(now).to_string(),
        "recipient_id": sent.wa_id,
    });
    if status == "failed" {
        value["errors"] = json!([status_error(error_code.unwrap_or(131000))]);
    } else if matches!(status, "sent" | "delivered") && sent.fails_with.is_none() {
        let category = if sent.kind == "template" {
            "utility"
        } else {
            "service"
        };
        let (id, expires) = conversation(s, &sent.wa_id, category, now);
        let mut conversation = json!({"id": id, "origin": {"type": category}});
        if status == "sent" {
            conversation["expiration_timestamp"] = json!(s.unix(expires).to_string());
        }
        value["conversation"] = conversation;
        value["pricing"] = json!({
            "billable": category != "service",
            "pricing_model": "CBP",
            "category": category,
        });
    }
    s.envelope(json!({ "statuses": [value] }))
}

/// The error object of a `failed` status.
fn status_error(code: i64) -> Value {
    let (title, details) = error_wording(code)
        .unwrap_or_else(|| panic!("the fake WhatsApp knows no error code {code}"));
    json!({
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details},
        "href": ERROR_CODES_HREF,
    })
}

/// The open conversation with `wa_id` in `category`, or a new one for 24 h.
fn conversation(
    s: &mut State,
    wa_id: &str,
    category: &'static str,
    now: Duration,
) -> (String, Duration) {
    let key = (wa_id.to_owned(), category);
    match s.conversations.get(&key) {
        Some((id, expires)) if now < *expires => (id.clone(), *expires),
        _ => {
            let opened = (format!("{:032x}", rand::random::<u128>()), now + WINDOW);
            s.conversations.insert(key, opened.clone());
            opened
        }
    }
}

/// Queues a signed post of `payload` to the webhook, if one is set.
fn enqueue(s: &mut State, payload: &Value) {
    let Some(url) = s.webhook.clone() else {
        return;
    };
    let body = serde_json::to_vec(payload).expect("serialize a webhook");
    let delivery = Delivery {
        url,
        signature: s.sign(&body),
        body,
        not_before: Instant::now() + s.status_delay,
    };
    if let Some(tx) = &s.deliveries {
        if tx.send(delivery).is_ok() {
            s.webhooks_pending += 1;
        }
    }
}

/// The webhook thread: posts what is queued, in order, counting failures.
fn deliver_webhooks(shared: &Shared, queue: mpsc::Receiver<Delivery>) {
    for delivery in queue {
        std::thread::sleep(
            delivery
                .not_before
                .saturating_duration_since(Instant::now()),
        );
        if shared.stopped.load(Ordering::SeqCst) {
            break;
        }
        let answered = http_post(&delivery.url, &delivery.body, Some(&delivery.signature));
        let mut s = shared.lock();
        s.webhook_posts += 1;
        if !answered.is_ok_and(|status| (200..300).contains(&status)) {
            s.webhook_failures += 1;
        }
        s.webhooks_pending -= 1;
    }
}

/// POSTs a JSON `body` to an http:// `url` over a fresh connection and
/// returns the answer's status code.
fn http_post(url: &str, body: &[u8], signature: Option<&str>) -> Result<u16, String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    if parsed.scheme() != "http" {
        return Err(format!("only http:// URLs, not {url}"));
    }
    let host = parsed.host_str().ok_or("no host")?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let address = *parsed
        .socket_addrs(|| None)
        .map_err(|e| e.to_string())?
        .first()
        .ok_or("no address")?;
    let mut stream =
        TcpStream::connect_timeout(&address, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let timeout = Some(Duration::from_secs(30));
    stream
        .set_read_timeout(timeout)
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(timeout)
        .map_err(|e| e.to_string())?;
    let target = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let mut head = format!(
        "POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: facebookexternalua\r\n\
         Accept: */*\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n",
        body.len()
    );
    if let Some(sig) = signature {
        head.push_str(&format!("X-Hub-Signature-256: {sig}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .and_then(|()| stream.flush())
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    // The status line is all we need; a reset after it changes nothing.
    let _ = stream.read_to_end(&mut answer);
    let line = answer.split(|b| *b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(line)
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no HTTP answer from {url}"))
}
