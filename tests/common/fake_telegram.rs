//! A faithful fake of the Telegram Bot API, for tests and benchmarks.
//!
//! A small actix-web server on loopback, on a thread of its own, holding the
//! bot's world in one `Mutex`: chats (private, groups, channels; blocked,
//! deactivated, migrated), the webhook, queued updates, served files, and
//! every message it accepted. It answers as the real API does —
//! `{"ok":true,"result":…}` or `{"ok":false,"error_code":N,"description":…,
//! "parameters":{…}}` with Telegram's wording — and enforces the real
//! limits:
//!
//! * the token in the path (`/bot<token>/<method>`), else 401 Unauthorized;
//! * `sendMessage`/`sendPhoto` shape: `chat_id` an integer or `@username`,
//!   text 1–4096 and caption ≤ 1024 UTF-16 units *after* entity parsing (as
//!   Telegram counts), `parse_mode` `HTML` parsed like Telegram's own parser
//!   (td's `parse_html`): only Telegram's tags, balanced, else 400 "Bad
//!   Request: can't parse entities: …". An `&` that starts no known entity
//!   is literal text there, as in Telegram;
//! * more than 30 messages in any second, more than one per second to a chat,
//!   more than 20 per minute to a group or channel → 429 "Too Many Requests:
//!   retry after N" with `parameters.retry_after`; refused messages do not
//!   count;
//! * blocked (403), deactivated (403), unknown (400 chat not found) and
//!   migrated chats (400 with `parameters.migrate_to_chat_id`);
//! * `getUpdates` with `offset` (confirms earlier updates), `limit`,
//!   `timeout` (long polling) and `allowed_updates`; 409 while a webhook is
//!   set, and 409 "terminated by other getUpdates request" to a poll that a
//!   newer one overtook (two bot instances polling);
//! * `setWebhook`, `deleteWebhook`, `getWebhookInfo`, `getMe`, `getFile` and
//!   the files themselves at `/file/bot<token>/<path>`.
//!
//! The clock can be moved forward ([`FakeTelegram::advance`]) so tests of
//! the per-minute limit need not wait. Used from tests through `mod common;`
//! and from the benchmark through `#[path]`, so it depends on nothing else
//! in `tests/common`.
// Handlers return ready answers as errors; a test double, not a hot path.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Map, Value};
use std::{
    collections::{HashMap, VecDeque},
    net::TcpListener,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

/// Longest message text, in UTF-16 units after entity parsing.
pub const MAX_TEXT: usize = 4096;
/// Longest photo caption, in UTF-16 units after entity parsing.
pub const MAX_CAPTION: usize = 1024;
/// Messages per second the bot may send overall.
pub const GLOBAL_PER_SECOND: usize = 30;
/// Messages per minute the bot may send to one group or channel.
pub const GROUP_PER_MINUTE: usize = 20;
/// Longest long poll (`timeout` in seconds) Telegram honours.
const MAX_POLL_TIMEOUT: u64 = 50;

/// The tags Telegram's HTML parse mode knows.
const TAGS: &[&str] = &[
    "a",
    "b",
    "strong",
    "i",
    "em",
    "s",
    "strike",
    "del",
    "u",
    "ins",
    "tg-spoiler",
    "tg-emoji",
    "span",
    "pre",
    "code",
    "blockquote",
];

/// What kind of chat an id is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatKind {
    Private,
    Group,
    Supergroup,
    Channel,
}

impl ChatKind {
    fn as_str(self) -> &'static str {
        match self {
            ChatKind::Private => "private",
            ChatKind::Group => "group",
            ChatKind::Supergroup => "supergroup",
            ChatKind::Channel => "channel",
        }
    }
}

/// What sending to a chat meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatState {
    Active,
    /// The user blocked the bot.
    Blocked,
    /// The user deleted their account.
    Deactivated,
    /// The group became a supergroup with this id.
    Migrated(i64),
}

#[derive(Debug, Clone)]
struct Chat {
    kind: ChatKind,
    username: Option<String>,
    state: ChatState,
}

/// A message the fake accepted.
#[derive(Debug, Clone)]
pub struct Sent {
    /// `sendMessage` or `sendPhoto`.
    pub method: String,
    pub chat_id: i64,
    pub message_id: i64,
    /// The raw `text` as sent (with its HTML).
    pub text: Option<String>,
    pub caption: Option<String>,
    pub photo: Option<String>,
    pub parse_mode: Option<String>,
    /// When it was accepted, on the fake's clock, since the fake started.
    pub at: Duration,
}

#[derive(Debug, Clone)]
struct Webhook {
    url: String,
    allowed_updates: Option<Vec<String>>,
}

struct State {
    token: String,
    bot_id: i64,
    chats: HashMap<i64, Chat>,
    /// Every positive id not otherwise known is a private chat (benchmarks).
    any_private: bool,
    webhook: Option<Webhook>,
    updates: VecDeque<Value>,
    next_update_id: i64,
    next_message_id: i64,
    allowed_updates: Option<Vec<String>>,
    sent: Vec<Sent>,
    /// Accepted sends in the last second, for the global limit.
    recent: VecDeque<Instant>,
    /// Accepted sends per chat in the last minute.
    per_chat: HashMap<i64, VecDeque<Instant>>,
    throttled: u64,
    /// 429s by the limit that gave them.
    throttled_by: HashMap<&'static str, u64>,
    calls: HashMap<String, u64>,
    files: HashMap<String, (String, Vec<u8>)>,
    poll_generation: u64,
    polls_active: usize,
    max_polls_active: usize,
    conflicts: u64,
    started: Instant,
    skew: Duration,
}

impl State {
    fn now(&self) -> Instant {
        Instant::now() + self.skew
    }
}

struct Shared {
    state: Mutex<State>,
    updates: tokio::sync::Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake Bot API; stopped on drop.
pub struct FakeTelegram {
    shared: Arc<Shared>,
    url: String,
    system: actix_web::rt::System,
}

impl FakeTelegram {
    /// Starts a fake for the bot with `token` (`<bot id>:<secret>`) on a free
    /// loopback port.
    pub fn start(token: &str) -> Self {
        let bot_id = token
            .split_once(':')
            .and_then(|(id, _)| id.parse().ok())
            .unwrap_or(1);
        let now = Instant::now();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                token: token.to_owned(),
                bot_id,
                chats: HashMap::new(),
                any_private: false,
                webhook: None,
                updates: VecDeque::new(),
                next_update_id: 700_000_001,
                next_message_id: 1,
                allowed_updates: None,
                sent: Vec::new(),
                recent: VecDeque::new(),
                per_chat: HashMap::new(),
                throttled: 0,
                throttled_by: HashMap::new(),
                calls: HashMap::new(),
                files: HashMap::new(),
                poll_generation: 0,
                polls_active: 0,
                max_polls_active: 0,
                conflicts: 0,
                started: now,
                skew: Duration::ZERO,
            }),
            updates: tokio::sync::Notify::new(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake Bot API");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let (tx, rx) = std::sync::mpsc::channel();
        let data = web::Data::from(shared.clone());
        std::thread::Builder::new()
            .name("fake-telegram".into())
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
            .expect("spawn the fake Bot API");
        let system = rx.recv().expect("the fake Bot API started");
        Self {
            shared,
            url,
            system,
        }
    }

    /// The base URL, for `telegram.api_url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// Registers private chats (residents who started the bot).
    pub fn add_private_chats(&self, ids: impl IntoIterator<Item = i64>) {
        let mut s = self.lock();
        for id in ids {
            s.chats.insert(
                id,
                Chat {
                    kind: ChatKind::Private,
                    username: None,
                    state: ChatState::Active,
                },
            );
        }
    }

    /// Treats every positive chat id as an existing private chat.
    pub fn accept_any_private_chat(&self, yes: bool) {
        self.lock().any_private = yes;
    }

    /// Registers a group (`id` negative) or, with a username, a channel.
    pub fn add_chat(&self, id: i64, kind: ChatKind, username: Option<&str>) {
        self.lock().chats.insert(
            id,
            Chat {
                kind,
                username: username.map(|u| u.trim_start_matches('@').to_owned()),
                state: ChatState::Active,
            },
        );
    }

    /// Sets a known chat's state (blocked, deactivated, migrated).
    pub fn set_state(&self, id: i64, state: ChatState) {
        let mut s = self.lock();
        let chat = s.chats.entry(id).or_insert(Chat {
            kind: if id < 0 {
                ChatKind::Group
            } else {
                ChatKind::Private
            },
            username: None,
            state: ChatState::Active,
        });
        chat.state = state;
    }

    /// Queues an update (its `update_id` is assigned here); returns the id.
    pub fn push_update(&self, mut update: Value) -> i64 {
        let id = {
            let mut s = self.lock();
            let id = s.next_update_id;
            s.next_update_id += 1;
            update["update_id"] = json!(id);
            // Whoever writes to the bot has a private chat with it.
            if let Some(chat) = update["message"]["chat"]["id"].as_i64() {
                if chat > 0 {
                    s.chats.entry(chat).or_insert(Chat {
                        kind: ChatKind::Private,
                        username: None,
                        state: ChatState::Active,
                    });
                }
            }
            s.updates.push_back(update);
            id
        };
        self.shared.updates.notify_waiters();
        id
    }

    /// Queues a text message from the private chat `chat`; returns the update id.
    pub fn push_text(&self, chat: i64, text: &str) -> i64 {
        let message_id = self.next_message_id();
        self.push_update(json!({
            "message": {
                "message_id": message_id,
                "date": unix_now(),
                "from": {"id": chat, "is_bot": false, "first_name": "Erika", "language_code": "de"},
                "chat": {"id": chat, "type": "private", "first_name": "Erika"},
                "text": text
            }
        }))
    }

    /// Queues a photo from `chat` whose largest size is `file_id`.
    pub fn push_photo(&self, chat: i64, file_id: &str, caption: Option<&str>) -> i64 {
        let message_id = self.next_message_id();
        let mut message = json!({
            "message_id": message_id,
            "date": unix_now(),
            "from": {"id": chat, "is_bot": false, "first_name": "Erika"},
            "chat": {"id": chat, "type": "private", "first_name": "Erika"},
            "photo": [
                {"file_id": format!("{file_id}-small"), "file_unique_id": "s", "width": 90, "height": 60, "file_size": 1200},
                {"file_id": file_id, "file_unique_id": "l", "width": 1280, "height": 853, "file_size": 98000}
            ]
        });
        if let Some(c) = caption {
            message["caption"] = json!(c);
        }
        self.push_update(json!({ "message": message }))
    }

    fn next_message_id(&self) -> i64 {
        let mut s = self.lock();
        let id = s.next_message_id;
        s.next_message_id += 1;
        id
    }

    /// Serves `bytes` as the file `file_id` at `/file/bot<token>/<path>`.
    pub fn add_file(&self, file_id: &str, path: &str, bytes: Vec<u8>) {
        self.lock()
            .files
            .insert(file_id.to_owned(), (path.to_owned(), bytes));
    }

    /// Sets a webhook as if `setWebhook` had been called.
    pub fn set_webhook(&self, url: &str) {
        self.lock().webhook = Some(Webhook {
            url: url.to_owned(),
            allowed_updates: None,
        });
    }

    /// The webhook URL, if one is set.
    pub fn webhook(&self) -> Option<String> {
        self.lock().webhook.as_ref().map(|w| w.url.clone())
    }

    /// Every accepted message, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.lock().sent.clone()
    }

    /// The accepted messages to `chat`.
    pub fn sent_to(&self, chat: i64) -> Vec<Sent> {
        self.lock()
            .sent
            .iter()
            .filter(|m| m.chat_id == chat)
            .cloned()
            .collect()
    }

    /// 429 answers given.
    pub fn throttled(&self) -> u64 {
        self.lock().throttled
    }

    /// 429 answers given by one limit: `second` (30 in any second), `chat`
    /// (one per second to a chat) or `group` (20 per minute).
    pub fn throttled_by(&self, limit: &str) -> u64 {
        self.lock().throttled_by.get(limit).copied().unwrap_or(0)
    }

    /// Calls of `method` (whatever their answer).
    pub fn calls(&self, method: &str) -> u64 {
        self.lock().calls.get(method).copied().unwrap_or(0)
    }

    /// Updates not yet confirmed by an `offset`.
    pub fn pending_updates(&self) -> usize {
        self.lock().updates.len()
    }

    /// Most `getUpdates` calls that were waiting at the same time.
    pub fn max_concurrent_polls(&self) -> usize {
        self.lock().max_polls_active
    }

    /// 409 answers to `getUpdates` (webhook active, or overtaken).
    pub fn poll_conflicts(&self) -> u64 {
        self.lock().conflicts
    }

    /// Starts counting concurrent polls and conflicts afresh.
    pub fn reset_poll_stats(&self) {
        let mut s = self.lock();
        s.max_polls_active = s.polls_active;
        s.conflicts = 0;
    }

    /// Time since the fake started, on the clock of [`Sent::at`].
    pub fn elapsed(&self) -> Duration {
        let s = self.lock();
        s.now().saturating_duration_since(s.started)
    }

    /// Moves the fake's clock forward (rate-limit windows pass at once).
    pub fn advance(&self, by: Duration) {
        self.lock().skew += by;
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.system.stop();
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn ok(result: Value) -> HttpResponse {
    HttpResponse::Ok().json(json!({"ok": true, "result": result}))
}

fn ok_described(result: Value, description: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({"ok": true, "result": result, "description": description}))
}

fn error(code: u16, description: &str) -> HttpResponse {
    error_with(code, description, None)
}

fn error_with(code: u16, description: &str, parameters: Option<Value>) -> HttpResponse {
    let mut body = json!({"ok": false, "error_code": code, "description": description});
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(code)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .json(body)
}

fn bad(description: &str) -> HttpResponse {
    error(400, &format!("Bad Request: {description}"))
}

fn too_many(retry_after: u64) -> HttpResponse {
    error_with(
        429,
        &format!("Too Many Requests: retry after {retry_after}"),
        Some(json!({ "retry_after": retry_after })),
    )
}

/// Query string and body (JSON or form) as one parameter map, as the Bot
/// API reads them.
fn params(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, HttpResponse> {
    let mut out = Map::new();
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        out.insert(k.into_owned(), Value::String(v.into_owned()));
    }
    if body.is_empty() {
        return Ok(out);
    }
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => out.extend(m),
            _ => return Err(bad("can't parse JSON object")),
        }
    } else {
        for (k, v) in url::form_urlencoded::parse(body) {
            out.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    Ok(out)
}

/// A parameter that may arrive as JSON or as a string holding JSON.
fn json_param(p: &Map<String, Value>, key: &str) -> Option<Value> {
    match p.get(key)? {
        Value::String(s) => serde_json::from_str(s)
            .ok()
            .or(Some(Value::String(s.clone()))),
        v => Some(v.clone()),
    }
}

fn int_param(p: &Map<String, Value>, key: &str) -> Option<i64> {
    match p.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn str_param<'a>(p: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    p.get(key).and_then(Value::as_str)
}

async fn handle(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let path = req.path().to_owned();
    if let Some(rest) = path.strip_prefix("/file/bot") {
        return serve_file(&shared, rest);
    }
    let Some((token, method)) = path
        .strip_prefix("/bot")
        .and_then(|rest| rest.split_once('/'))
    else {
        return error(404, "Not Found");
    };
    {
        let mut s = shared.lock();
        *s.calls.entry(method.to_owned()).or_default() += 1;
        if token != s.token {
            return error(401, "Unauthorized");
        }
    }
    let p = match params(&req, &body) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    match method.to_ascii_lowercase().as_str() {
        "getme" => {
            let s = shared.lock();
            ok(json!({
                "id": s.bot_id, "is_bot": true, "first_name": "Herold Test",
                "username": "herold_test_bot", "can_join_groups": true,
                "can_read_all_group_messages": false, "supports_inline_queries": false
            }))
        }
        "sendmessage" => send(&shared, "sendMessage", &p),
        "sendphoto" => send(&shared, "sendPhoto", &p),
        "setwebhook" => set_webhook(&shared, &p),
        "deletewebhook" => {
            let mut s = shared.lock();
            if p.get("drop_pending_updates")
                .is_some_and(|v| v == &json!(true) || v == &json!("true"))
            {
                s.updates.clear();
            }
            match s.webhook.take() {
                Some(_) => ok_described(json!(true), "Webhook was deleted"),
                None => ok_described(json!(true), "Webhook is already deleted"),
            }
        }
        "getwebhookinfo" => {
            let s = shared.lock();
            let mut info = json!({
                "url": s.webhook.as_ref().map_or("", |w| w.url.as_str()),
                "has_custom_certificate": false,
                "pending_update_count": s.updates.len(),
            });
            if let Some(a) = s.webhook.as_ref().and_then(|w| w.allowed_updates.clone()) {
                info["allowed_updates"] = json!(a);
            }
            ok(info)
        }
        "getfile" => {
            let s = shared.lock();
            let Some(id) = str_param(&p, "file_id") else {
                return bad("file_id is empty");
            };
            match s.files.get(id) {
                Some((path, bytes)) => ok(json!({
                    "file_id": id, "file_unique_id": format!("u-{id}"),
                    "file_size": bytes.len(), "file_path": path
                })),
                None => bad("invalid file_id"),
            }
        }
        "getupdates" => get_updates(&shared, &p).await,
        _ => error(404, "Not Found"),
    }
}

fn serve_file(shared: &Shared, rest: &str) -> HttpResponse {
    let s = shared.lock();
    let Some((token, path)) = rest.split_once('/') else {
        return error(404, "Not Found");
    };
    if token != s.token {
        return error(401, "Unauthorized");
    }
    match s.files.values().find(|(p, _)| p == path) {
        Some((_, bytes)) => HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(bytes.clone()),
        None => error(404, "Not Found"),
    }
}

fn set_webhook(shared: &Shared, p: &Map<String, Value>) -> HttpResponse {
    let Some(url) = str_param(p, "url") else {
        return bad("bad webhook: URL must be provided for webhook");
    };
    if url.is_empty() {
        // An empty URL removes the webhook.
        shared.lock().webhook = None;
        return ok_described(json!(true), "Webhook was deleted");
    }
    if !url.starts_with("https://") {
        return bad("bad webhook: An HTTPS URL must be provided for webhook");
    }
    if let Some(secret) = str_param(p, "secret_token") {
        let valid = (1..=256).contains(&secret.len())
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return bad("secret token contains unallowed characters");
        }
    }
    let allowed_updates = json_param(p, "allowed_updates").and_then(|v| {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
    });
    shared.lock().webhook = Some(Webhook {
        url: url.to_owned(),
        allowed_updates,
    });
    ok_described(json!(true), "Webhook was set")
}

/// Whom a `chat_id` names.
enum Target {
    Id(i64),
    Username(String),
}

fn target(p: &Map<String, Value>) -> Result<Target, HttpResponse> {
    match p.get("chat_id") {
        None => Err(bad("chat_id is empty")),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Target::Id)
            .ok_or_else(|| bad("chat not found")),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                Err(bad("chat_id is empty"))
            } else if let Ok(id) = s.parse::<i64>() {
                Ok(Target::Id(id))
            } else if let Some(name) = s.strip_prefix('@').filter(|n| !n.is_empty()) {
                Ok(Target::Username(name.to_owned()))
            } else {
                Err(bad("chat not found"))
            }
        }
        Some(_) => Err(bad("chat not found")),
    }
}

/// `sendMessage` and `sendPhoto`.
fn send(shared: &Shared, method: &str, p: &Map<String, Value>) -> HttpResponse {
    let target = match target(p) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let parse_mode = str_param(p, "parse_mode").map(str::to_owned);
    let parse = |raw: &str| -> Result<String, HttpResponse> {
        match parse_mode.as_deref() {
            None | Some("") => Ok(raw.to_owned()),
            Some(m) if m.eq_ignore_ascii_case("html") => {
                parse_html(raw).map_err(|why| bad(&format!("can't parse entities: {why}")))
            }
            // Herold never sends Markdown; it is accepted unchecked.
            Some(m)
                if m.eq_ignore_ascii_case("markdown") || m.eq_ignore_ascii_case("markdownv2") =>
            {
                Ok(raw.to_owned())
            }
            Some(_) => Err(bad("unsupported parse_mode")),
        }
    };
    let (text, caption, photo) = if method == "sendMessage" {
        let raw = str_param(p, "text").unwrap_or("");
        let visible = match parse(raw) {
            Ok(v) => v,
            Err(resp) => return resp,
        };
        if visible.trim().is_empty() {
            return bad("message text is empty");
        }
        if visible.encode_utf16().count() > MAX_TEXT {
            return bad("message is too long");
        }
        (Some(raw.to_owned()), None, None)
    } else {
        let Some(photo) = str_param(p, "photo").filter(|s| !s.is_empty()) else {
            return bad("there is no photo in the request");
        };
        let known = shared.lock().files.contains_key(photo);
        if !(photo.starts_with("http://") || photo.starts_with("https://") || known) {
            return bad("wrong remote file identifier specified: Wrong string length");
        }
        let caption = str_param(p, "caption").map(str::to_owned);
        if let Some(c) = &caption {
            let visible = match parse(c) {
                Ok(v) => v,
                Err(resp) => return resp,
            };
            if visible.encode_utf16().count() > MAX_CAPTION {
                return bad("message caption is too long");
            }
        }
        (None, caption, Some(photo.to_owned()))
    };
    let mut s = shared.lock();
    let (chat_id, chat) = match &target {
        Target::Id(id) => match s.chats.get(id) {
            Some(c) => (*id, c.clone()),
            None if s.any_private && *id > 0 => (
                *id,
                Chat {
                    kind: ChatKind::Private,
                    username: None,
                    state: ChatState::Active,
                },
            ),
            None => return bad("chat not found"),
        },
        Target::Username(name) => match s.chats.iter().find(|(_, c)| {
            c.username
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(name))
        }) {
            Some((id, c)) => (*id, c.clone()),
            None => return bad("chat not found"),
        },
    };
    match chat.state {
        ChatState::Active => {}
        ChatState::Blocked => return error(403, "Forbidden: bot was blocked by the user"),
        ChatState::Deactivated => return error(403, "Forbidden: user is deactivated"),
        ChatState::Migrated(to) => {
            return error_with(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                Some(json!({ "migrate_to_chat_id": to })),
            )
        }
    }
    let now = s.now();
    if let Err((limit, retry_after)) = admit(&mut s, chat_id, chat.kind != ChatKind::Private, now) {
        s.throttled += 1;
        *s.throttled_by.entry(limit).or_default() += 1;
        return too_many(retry_after);
    }
    let message_id = s.next_message_id;
    s.next_message_id += 1;
    let at = now.saturating_duration_since(s.started);
    s.sent.push(Sent {
        method: method.to_owned(),
        chat_id,
        message_id,
        text: text.clone(),
        caption: caption.clone(),
        photo: photo.clone(),
        parse_mode: parse_mode.clone(),
        at,
    });
    let mut result = json!({
        "message_id": message_id,
        "from": {"id": s.bot_id, "is_bot": true, "first_name": "Herold Test", "username": "herold_test_bot"},
        "chat": {"id": chat_id, "type": chat.kind.as_str()},
        "date": unix_now(),
    });
    if let Some(t) = text {
        result["text"] = json!(t);
    }
    if let Some(c) = caption {
        result["caption"] = json!(c);
    }
    if photo.is_some() {
        result["photo"] = json!([{"file_id": format!("sent-{message_id}"), "file_unique_id": "p", "width": 1280, "height": 853}]);
    }
    ok(result)
}

/// The rate limits, on accepted messages: at most 30 in any second, one per
/// second to one chat, 20 per minute to a group or channel. `Err` is the
/// limit (`second`, `chat`, `group`) and the `retry_after` in whole seconds.
fn admit(s: &mut State, chat: i64, group: bool, now: Instant) -> Result<(), (&'static str, u64)> {
    let second = Duration::from_secs(1);
    let minute = Duration::from_secs(60);
    let ceil_secs = |d: Duration| (d.as_secs_f64().ceil() as u64).max(1);
    while s
        .recent
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= second)
    {
        s.recent.pop_front();
    }
    if s.recent.len() >= GLOBAL_PER_SECOND {
        let oldest = s.recent.front().copied().unwrap_or(now);
        return Err((
            "second",
            ceil_secs((oldest + second).saturating_duration_since(now)),
        ));
    }
    let times = s.per_chat.entry(chat).or_default();
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= minute)
    {
        times.pop_front();
    }
    if let Some(last) = times.back() {
        let since = now.saturating_duration_since(*last);
        if since < second {
            return Err(("chat", ceil_secs(second - since)));
        }
    }
    if group && times.len() >= GROUP_PER_MINUTE {
        let oldest = times.front().copied().unwrap_or(now);
        return Err((
            "group",
            ceil_secs((oldest + minute).saturating_duration_since(now)),
        ));
    }
    times.push_back(now);
    s.recent.push_back(now);
    Ok(())
}

async fn get_updates(shared: &Shared, p: &Map<String, Value>) -> HttpResponse {
    let offset = int_param(p, "offset");
    let limit = int_param(p, "limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = int_param(p, "timeout")
        .unwrap_or(0)
        .clamp(0, MAX_POLL_TIMEOUT as i64) as u64;
    let allowed = json_param(p, "allowed_updates").and_then(|v| {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
    });
    let generation = {
        let mut s = shared.lock();
        if s.webhook.is_some() {
            s.conflicts += 1;
            return error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            );
        }
        // Telegram remembers allowed_updates until the next call sets them.
        if let Some(a) = allowed {
            s.allowed_updates = Some(a).filter(|a| !a.is_empty());
        }
        // An offset confirms every update before it.
        if let Some(offset) = offset {
            if offset > 0 {
                while s
                    .updates
                    .front()
                    .is_some_and(|u| u["update_id"].as_i64().unwrap_or(0) < offset)
                {
                    s.updates.pop_front();
                }
            }
        }
        s.poll_generation += 1;
        s.polls_active += 1;
        s.max_polls_active = s.max_polls_active.max(s.polls_active);
        s.poll_generation
    };
    // A newer poll of the same bot overtakes this one while it waits.
    shared.updates.notify_waiters();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let answer = loop {
        let notified = shared.updates.notified();
        {
            let mut s = shared.lock();
            if s.poll_generation != generation {
                s.conflicts += 1;
                break error(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                );
            }
            let allowed = s.allowed_updates.clone();
            let kind_ok = |u: &Value| match &allowed {
                None => true,
                Some(a) => u
                    .as_object()
                    .and_then(|o| o.keys().find(|k| *k != "update_id"))
                    .is_some_and(|k| a.iter().any(|x| x == k)),
            };
            // Updates of kinds not asked for are dropped, as Telegram does.
            s.updates.retain(|u| kind_ok(u));
            let negative = offset.filter(|o| *o < 0).map(|o| o.unsigned_abs() as usize);
            let skip = negative.map_or(0, |n| s.updates.len().saturating_sub(n));
            let batch: Vec<Value> = s.updates.iter().skip(skip).take(limit).cloned().collect();
            if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                break ok(Value::Array(batch));
            }
        }
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    };
    shared.lock().polls_active -= 1;
    answer
}

/// Telegram's HTML parse mode, after td's `parse_html`: returns the visible
/// text, or the reason it cannot be parsed in Telegram's words.
pub fn parse_html(text: &str) -> Result<String, String> {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut open: Vec<String> = Vec::new();
    let mut i = 0;
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    while i < b.len() {
        if b[i] == b'&' {
            if let Some((c, next)) = decode_entity(text, i) {
                out.push(c);
                i = next;
                continue;
            }
        }
        if b[i] != b'<' {
            let c = text[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(c);
            i += c.len_utf8().max(1);
            continue;
        }
        let begin = i;
        i += 1;
        if b.get(i) != Some(&b'/') {
            let mut end = i;
            while end < b.len() && !is_space(b[end]) && b[end] != b'>' {
                end += 1;
            }
            let name = text[i..end].to_ascii_lowercase();
            if !TAGS.contains(&name.as_str()) {
                return Err(format!(
                    "Unsupported start tag \"{name}\" at byte offset {begin}"
                ));
            }
            i = end;
            let mut attributes: Vec<(String, String)> = Vec::new();
            loop {
                while i < b.len() && is_space(b[i]) {
                    i += 1;
                }
                if i >= b.len() {
                    return Err(format!("Unclosed start tag at byte offset {begin}"));
                }
                if b[i] == b'>' {
                    i += 1;
                    break;
                }
                let start = i;
                while i < b.len() && !is_space(b[i]) && b[i] != b'=' && b[i] != b'>' {
                    i += 1;
                }
                let attr = text[start..i].to_ascii_lowercase();
                while i < b.len() && is_space(b[i]) {
                    i += 1;
                }
                if b.get(i) != Some(&b'=') {
                    // A bare attribute (e.g. `expandable`).
                    attributes.push((attr, String::new()));
                    continue;
                }
                i += 1;
                while i < b.len() && is_space(b[i]) {
                    i += 1;
                }
                if i >= b.len() {
                    return Err(format!(
                        "Unclosed start tag \"{name}\" at byte offset {begin}"
                    ));
                }
                let value = if b[i] == b'"' || b[i] == b'\'' {
                    let quote = b[i];
                    i += 1;
                    let start = i;
                    while i < b.len() && b[i] != quote {
                        i += 1;
                    }
                    if i >= b.len() {
                        return Err(format!(
                            "Unclosed end of attribute value at byte offset {start}"
                        ));
                    }
                    let v = &text[start..i];
                    i += 1;
                    v.to_owned()
                } else {
                    let start = i;
                    while i < b.len() && !is_space(b[i]) && b[i] != b'>' {
                        i += 1;
                    }
                    text[start..i].to_owned()
                };
                attributes.push((attr, value));
            }
            if name == "span"
                && !attributes
                    .iter()
                    .any(|(k, v)| k == "class" && v == "tg-spoiler")
            {
                return Err(format!(
                    "Tag \"span\" must have class \"tg-spoiler\" at byte offset {begin}"
                ));
            }
            open.push(name);
        } else {
            let Some(expected) = open.pop() else {
                return Err(format!("Unexpected end tag at byte offset {begin}"));
            };
            i += 1;
            let start = i;
            while i < b.len() && !is_space(b[i]) && b[i] != b'>' {
                i += 1;
            }
            let name = text[start..i].to_ascii_lowercase();
            while i < b.len() && is_space(b[i]) {
                i += 1;
            }
            if b.get(i) != Some(&b'>') {
                return Err(format!("Unclosed end tag at byte offset {begin}"));
            }
            i += 1;
            if name != expected {
                return Err(format!(
                    "Unmatched end tag at byte offset {begin}, expected \"</{expected}>\", found \"</{name}>\""
                ));
            }
        }
    }
    match open.last() {
        Some(tag) => Err(format!(
            "Can't find end tag corresponding to start tag {tag}"
        )),
        None => Ok(out),
    }
}

/// An entity at byte `pos` (`&lt;`, `&gt;`, `&amp;`, `&quot;`, `&#NNN;`,
/// `&#xHHH;`, the `;` optional), as td decodes it; `None` leaves the `&`
/// as literal text.
fn decode_entity(text: &str, pos: usize) -> Option<(char, usize)> {
    let b = text.as_bytes();
    let mut end = pos + 1;
    let code: u32 = if b.get(end) == Some(&b'#') {
        end += 1;
        let hex = matches!(b.get(end), Some(b'x' | b'X'));
        if hex {
            end += 1;
        }
        let start = end;
        while end < b.len()
            && (if hex {
                b[end].is_ascii_hexdigit()
            } else {
                b[end].is_ascii_digit()
            })
        {
            end += 1;
        }
        if end == start || end - pos >= 10 {
            return None;
        }
        u32::from_str_radix(&text[start..end], if hex { 16 } else { 10 }).ok()?
    } else {
        while end < b.len() && b[end].is_ascii_alphabetic() {
            end += 1;
        }
        match &text[pos + 1..end] {
            "lt" => '<' as u32,
            "gt" => '>' as u32,
            "amp" => '&' as u32,
            "quot" => '"' as u32,
            _ => return None,
        }
    };
    if code == 0 || code >= 0x10ffff {
        return None;
    }
    let c = char::from_u32(code)?;
    if b.get(end) == Some(&b';') {
        end += 1;
    }
    Some((c, end))
}
