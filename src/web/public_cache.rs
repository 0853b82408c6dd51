//! The public documents (feeds, calendars, `/` and announcement pages),
//! rendered once and answered from memory until what they show changes.
//!
//! When a warning goes out, residents, feed readers and news sites ask for
//! the same few documents thousands of times a second; rendering each from
//! the database every time is what made Herold a tenth as fast as a static
//! file server (docs/benchmarks.md, "Public documents"). A rendered
//! document is kept with its validators (ETag, Last-Modified) and a gzip
//! copy, so full answers, gzip answers and 304s cost no database work.
//!
//! Freshness: database triggers count every change to announcements,
//! categories and media, by any process (storage `public_state`). A server
//! reads that counter, and the next time a scheduled announcement becomes
//! public, once per `public_refresh_ms` (default 250) while requests
//! arrive: in the background while the last read is younger than three
//! times that, and before answering after a quieter spell. A publication
//! made elsewhere is therefore served within about a quarter of a second,
//! never later than three quarters. With 0, every request asks first.
//!
//! Hand-written rather than a caching crate: the invalidation is one shared
//! generation number driven by the database, not per-entry time-to-live,
//! and what is kept is a finished HTTP representation.

use actix_web::web::Bytes;
use actix_web::{
    http::{
        header::{self, HeaderValue},
        StatusCode,
    },
    web, HttpRequest, HttpResponse,
};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::{
    collections::HashMap,
    io::Write,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, RwLock,
    },
    time::{Duration, Instant},
};

use crate::{service::Herold, storage::PublicState};

/// At most this many documents are kept (feeds, pages); more are rendered
/// per request. Bounds memory when crawlers walk every announcement.
const CAPACITY: usize = 4096;
/// Smaller bodies are not worth a gzip copy.
const GZIP_MIN_BYTES: usize = 1024;

/// A rendered document, ready to be answered.
#[derive(Debug)]
pub struct Document {
    status: StatusCode,
    content_type: HeaderValue,
    cache_control: HeaderValue,
    last_modified: HeaderValue,
    modified_secs: i64,
    /// Strong validator of the identity body, quoted.
    etag: HeaderValue,
    body: Bytes,
    /// The gzip copy with its own validator (another representation).
    gzip: Option<(HeaderValue, Bytes)>,
}

/// What a handler renders for the cache.
#[derive(Debug)]
pub struct Rendered {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub cache_control: &'static str,
    pub last_modified: DateTime<Utc>,
    pub body: String,
}

impl Document {
    /// Prepares `r`: validators and, with `gzip`, the gzip copy.
    pub fn new(r: Rendered, gzip: bool) -> Self {
        let digest = Sha256::digest(r.body.as_bytes());
        let tag = hex::encode(&digest[..16]);
        let body = Bytes::from(r.body);
        let gzip = (gzip && body.len() >= GZIP_MIN_BYTES)
            .then(|| compress(&body))
            .flatten()
            .map(|gz| (header_value(&format!("\"{tag}-gz\"")), gz));
        let secs = r.last_modified.timestamp().max(0);
        let http_date = header::HttpDate::from(
            std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs()),
        );
        Self {
            status: r.status,
            content_type: HeaderValue::from_static(r.content_type),
            cache_control: HeaderValue::from_static(r.cache_control),
            last_modified: header_value(&http_date.to_string()),
            modified_secs: secs,
            etag: header_value(&format!("\"{tag}\"")),
            body,
            gzip,
        }
    }

    /// The answer to `req`: the body (gzip if the client takes it), or 304
    /// when the client's copy is current (RFC 9110 §13: `If-None-Match`
    /// wins over `If-Modified-Since`).
    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let gzip = self.gzip.as_ref().filter(|_| accepts_gzip(req));
        let (etag, body) = match gzip {
            Some((tag, gz)) => (tag, gz),
            None => (&self.etag, &self.body),
        };
        let headers = req.headers();
        let not_modified = self.status == StatusCode::OK
            && match headers.get(header::IF_NONE_MATCH) {
                Some(v) => v.to_str().is_ok_and(|v| matches_etag(v, etag)),
                None => headers
                    .get(header::IF_MODIFIED_SINCE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<header::HttpDate>().ok())
                    .is_some_and(|since| {
                        std::time::SystemTime::from(since)
                            .duration_since(std::time::UNIX_EPOCH)
                            .is_ok_and(|d| d.as_secs() >= self.modified_secs.unsigned_abs())
                    }),
            };
        let mut resp = HttpResponse::build(if not_modified {
            StatusCode::NOT_MODIFIED
        } else {
            self.status
        });
        resp.insert_header((header::ETAG, etag.clone()))
            .insert_header((header::LAST_MODIFIED, self.last_modified.clone()))
            .insert_header((header::CACHE_CONTROL, self.cache_control.clone()))
            .insert_header((header::VARY, HeaderValue::from_static("accept-encoding")));
        if not_modified {
            return resp.finish();
        }
        resp.insert_header((header::CONTENT_TYPE, self.content_type.clone()));
        // Set on both, so the compression middleware leaves the body as is.
        resp.insert_header((
            header::CONTENT_ENCODING,
            HeaderValue::from_static(if gzip.is_some() { "gzip" } else { "identity" }),
        ));
        resp.body(body.clone())
    }
}

/// Whether an `If-None-Match` list names `etag` (weak comparison).
fn matches_etag(list: &str, etag: &HeaderValue) -> bool {
    let Ok(etag) = etag.to_str() else {
        return false;
    };
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// Whether `Accept-Encoding` takes gzip (with a q-value above zero).
fn accepts_gzip(req: &HttpRequest) -> bool {
    let Some(Ok(value)) = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .map(HeaderValue::to_str)
    else {
        return false;
    };
    value.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        let q_zero = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        coding.eq_ignore_ascii_case("gzip") && !q_zero
    })
}

fn compress(body: &[u8]) -> Option<Bytes> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 3),
        flate2::Compression::default(),
    );
    enc.write_all(body).ok()?;
    enc.finish().ok().map(Bytes::from)
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The last read of the change counter.
struct Checked {
    at: Option<Instant>,
    state: Option<PublicState>,
}

/// The cache, shared by every server thread.
pub struct PublicCache {
    /// Bumped whenever the public documents may have changed.
    generation: AtomicU64,
    /// Milliseconds since `epoch` of the last read, for the lock-free check.
    checked_ms: AtomicU64,
    epoch: Instant,
    /// Whether documents get a gzip copy (not in `herold demo`, whose
    /// banner is written into each page on its way out).
    gzip: bool,
    /// How long a read of the change counter is trusted without asking.
    fresh: Duration,
    /// After this long without a read, a request waits for one.
    stale: Duration,
    checked: Arc<tokio::sync::Mutex<Checked>>,
    entries: RwLock<HashMap<String, (u64, Arc<Document>)>>,
    /// Renders of one key wait for each other (striped by key), so a
    /// change makes each document rendered once, not once per request.
    render_locks: [tokio::sync::Mutex<()>; 16],
}

impl PublicCache {
    /// An empty cache that reads the change counter every `refresh`;
    /// `gzip`: keep a gzip copy of each document.
    pub fn new(refresh: Duration, gzip: bool) -> Self {
        Self {
            gzip,
            fresh: refresh,
            stale: refresh * 3,
            generation: AtomicU64::new(0),
            checked_ms: AtomicU64::new(u64::MAX),
            epoch: Instant::now(),
            checked: Arc::new(tokio::sync::Mutex::new(Checked {
                at: None,
                state: None,
            })),
            entries: RwLock::new(HashMap::new()),
            render_locks: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
        }
    }

    /// The document at `key`, from memory if current, else rendered by
    /// `render` (on a blocking thread) and kept. `Ok(None)` from `render`
    /// (a missing category or announcement) is passed on and not kept.
    pub async fn get_or_render<E, F>(
        self: &Arc<Self>,
        herold: &Arc<Herold>,
        key: &str,
        render: F,
    ) -> Result<Option<Arc<Document>>, CacheError<E>>
    where
        F: FnOnce() -> Result<Option<Rendered>, E> + Send + 'static,
        E: Send + 'static,
    {
        let generation = self.current_generation(herold).await?;
        if let Some(doc) = self.lookup(key, generation) {
            return Ok(Some(doc));
        }
        let _rendering = self.render_locks[stripe(key)].lock().await;
        if let Some(doc) = self.lookup(key, generation) {
            return Ok(Some(doc));
        }
        let gzip = self.gzip;
        let rendered = web::block(move || render().map(|r| r.map(|r| Document::new(r, gzip))))
            .await
            .map_err(|_| CacheError::Blocking)?
            .map_err(CacheError::Render)?;
        let Some(doc) = rendered.map(Arc::new) else {
            return Ok(None);
        };
        self.store(key, generation, doc.clone());
        Ok(Some(doc))
    }

    fn lookup(&self, key: &str, generation: u64) -> Option<Arc<Document>> {
        let entries = self.entries.read().ok()?;
        entries
            .get(key)
            .filter(|(g, _)| *g == generation)
            .map(|(_, d)| d.clone())
    }

    fn store(&self, key: &str, generation: u64, doc: Arc<Document>) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= CAPACITY && !entries.contains_key(key) {
            entries.retain(|_, (g, _)| *g == generation);
            if entries.len() >= CAPACITY {
                return;
            }
        }
        entries.insert(key.to_owned(), (generation, doc));
    }

    /// The generation to answer with: current as of at most `fresh` ago,
    /// refreshed in the background up to `stale`, waited for beyond.
    async fn current_generation<E>(
        self: &Arc<Self>,
        herold: &Arc<Herold>,
    ) -> Result<u64, CacheError<E>> {
        let now_ms = self.epoch.elapsed().as_millis();
        let last = self.checked_ms.load(Ordering::Acquire);
        let age = (last != u64::MAX).then(|| now_ms.saturating_sub(u128::from(last)));
        match age {
            Some(age) if age < self.fresh.as_millis() => {}
            Some(age) if age < self.stale.as_millis() => {
                // One request refreshes; the others answer meanwhile.
                if let Ok(guard) = self.checked.clone().try_lock_owned() {
                    let (cache, herold) = (self.clone(), herold.clone());
                    actix_web::rt::spawn(async move {
                        if let Err(e) = cache.refresh(guard, &herold).await {
                            tracing::warn!(error = %e, "public documents: change check failed");
                        }
                    });
                }
            }
            _ => {
                let guard = self.checked.clone().lock_owned().await;
                // Another request may have refreshed while this one waited.
                let fresh = guard.at.is_some_and(|at| at.elapsed() < self.fresh);
                if !fresh {
                    self.refresh(guard, herold)
                        .await
                        .map_err(CacheError::Check)?;
                }
            }
        }
        Ok(self.generation.load(Ordering::Acquire))
    }

    async fn refresh(
        &self,
        mut checked: tokio::sync::OwnedMutexGuard<Checked>,
        herold: &Arc<Herold>,
    ) -> Result<(), CheckError> {
        let h = herold.clone();
        let now = Utc::now();
        let state = web::block(move || h.db().public_state(now))
            .await
            .map_err(|_| CheckError::Blocking)?
            .map_err(CheckError::Storage)?;
        let changed = match checked.state {
            None => true,
            Some(prev) => {
                prev.version != state.version || prev.next_due.is_some_and(|due| due <= now)
            }
        };
        if changed {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        checked.state = Some(state);
        let at = Instant::now();
        checked.at = Some(at);
        let ms = u64::try_from(at.duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX - 1);
        self.checked_ms.store(ms, Ordering::Release);
        Ok(())
    }
}

fn stripe(key: &str) -> usize {
    key.bytes().fold(0usize, |h, b| {
        h.wrapping_mul(31).wrapping_add(usize::from(b))
    }) % 16
}

/// Why a document could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum CacheError<E> {
    #[error("rendering failed: {0}")]
    Render(E),
    #[error(transparent)]
    Check(CheckError),
    #[error("the blocking thread pool is gone")]
    Blocking,
}

/// Why the change counter could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("checking for changes failed: {0}")]
    Storage(crate::storage::StorageError),
    #[error("the blocking thread pool is gone")]
    Blocking,
}
