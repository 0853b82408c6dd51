//! A fake push provider over HTTP, for tests and `herold bench
//! --provider-url`: accepts `POST /messages`, enforces an optional rate limit
//! with 429 and `Retry-After`, and counts (optionally records) what arrives.

use actix_web::{web, App, HttpResponse, HttpServer};
use std::{
    net::TcpListener,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Mutex,
    },
    thread::JoinHandle,
    time::Instant,
};

/// One message as the fake provider received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The provider message id the fake answered with.
    pub id: String,
    pub to: String,
    pub idempotency_key: String,
    /// The message text.
    pub text: String,
}

#[derive(Default)]
struct State {
    /// Messages per second and bucket size; `None` accepts everything.
    limit: Option<(f64, f64)>,
    bucket: Mutex<Option<(f64, Instant)>>,
    record: bool,
    received: Mutex<Vec<Received>>,
    accepted: AtomicU64,
    throttled: AtomicU64,
    /// An outage: every request is answered 503.
    down: AtomicBool,
    /// Requests answered 503 during outages.
    unavailable: AtomicU64,
}

impl State {
    fn admit(&self) -> bool {
        let Some((rate, burst)) = self.limit else {
            return true;
        };
        let Ok(mut bucket) = self.bucket.lock() else {
            return false;
        };
        let now = Instant::now();
        let (tokens, at) = bucket.unwrap_or((burst, now));
        let tokens = (tokens + now.duration_since(at).as_secs_f64() * rate).min(burst);
        if tokens >= 1.0 {
            *bucket = Some((tokens - 1.0, now));
            true
        } else {
            *bucket = Some((tokens, now));
            false
        }
    }
}

#[derive(serde::Deserialize)]
struct Message {
    idempotency_key: String,
    to: String,
    #[serde(default)]
    text: String,
}

async fn messages(state: web::Data<State>, body: web::Json<Message>) -> HttpResponse {
    if state.down.load(Ordering::Relaxed) {
        state.unavailable.fetch_add(1, Ordering::Relaxed);
        return HttpResponse::ServiceUnavailable().finish();
    }
    if !state.admit() {
        state.throttled.fetch_add(1, Ordering::Relaxed);
        return HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", "1"))
            .finish();
    }
    let n = state.accepted.fetch_add(1, Ordering::Relaxed);
    if state.record {
        if let Ok(mut r) = state.received.lock() {
            r.push(Received {
                id: format!("fake-{n}"),
                to: body.to.clone(),
                idempotency_key: body.idempotency_key.clone(),
                text: body.text.clone(),
            });
        }
    }
    HttpResponse::Ok().json(serde_json::json!({ "id": format!("fake-{n}") }))
}

/// A running fake provider; stops when dropped.
pub struct FakeServer {
    url: String,
    state: web::Data<State>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Starts on a free loopback port. `limit` is messages per second (with
    /// a bucket of one second); `record` keeps every message for inspection.
    pub fn start(limit: Option<f64>, record: bool) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = web::Data::new(State {
            limit: limit.map(|r| (r, r.max(1.0))),
            record,
            ..State::default()
        });
        let data = state.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let sys = actix_web::rt::System::new();
            sys.block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .route("/messages", web::post().to(messages))
                })
                .workers(2)
                .disable_signals()
                .listen(listener);
                match server {
                    Ok(s) => {
                        let s = s.run();
                        let _ = tx.send(Ok(s.handle()));
                        let _ = s.await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        });
        let handle = rx
            .recv()
            .map_err(|_| std::io::Error::other("fake provider did not start"))??;
        Ok(Self {
            url,
            state,
            handle,
            thread: Some(thread),
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Messages accepted.
    pub fn accepted(&self) -> u64 {
        self.state.accepted.load(Ordering::Relaxed)
    }

    /// Requests answered with 429.
    pub fn throttled(&self) -> u64 {
        self.state.throttled.load(Ordering::Relaxed)
    }

    /// Starts (`true`) or ends an outage: meanwhile every message is
    /// answered 503 Service Unavailable.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::Relaxed);
    }

    /// Requests answered 503 during outages.
    pub fn unavailable(&self) -> u64 {
        self.state.unavailable.load(Ordering::Relaxed)
    }

    /// Recorded messages (with `record`).
    pub fn received(&self) -> Vec<Received> {
        self.state
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        let stop = self.handle.stop(false);
        // The server runs on its own thread's runtime; wait for it there.
        if let Some(t) = self.thread.take() {
            drop(stop);
            let _ = t.join();
        }
    }
}
