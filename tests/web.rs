//! `herold serve` end to end: the real binary on a real port, announcements
//! published with the real CLI, feeds read over HTTP and checked by an
//! independent parser (feedparser), on SQLite and on PostgreSQL.

mod common;

use reqwest::{blocking::Client, header, StatusCode};
use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The Python with feedparser that `scripts/test.sh` prepares.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("HEROLD_TEST_PYTHON") {
        return p.into();
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-peers/venv/bin/python");
    assert!(
        p.exists(),
        "{} not found: run ./scripts/test.sh, which installs feedparser for the feed tests",
        p.display()
    );
    p
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `herold serve`, stopped on drop.
struct Server {
    child: Child,
    base: String,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

impl Server {
    fn start(database_url: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut env = vec![
            ("HEROLD_LISTEN".to_owned(), format!("127.0.0.1:{port}")),
            ("HEROLD_PUBLIC_URL".to_owned(), format!("{base}/")),
            (
                "HEROLD_SITE_NAME".to_owned(),
                "Gemeinde Musterstadt".to_owned(),
            ),
        ];
        if let Some(url) = database_url {
            let key = dir.path().join("pg.key");
            std::fs::write(&key, herold::crypto::Keyring::generate_encoded().as_bytes()).unwrap();
            env.push(("HEROLD_DATABASE_URL".into(), url.into()));
            env.push(("HEROLD_SECRET_KEY_FILE".into(), key.display().to_string()));
        }
        let child = Self::command(dir.path(), &env)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Self {
            child,
            base,
            env,
            dir,
        };
        let client = Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(server.url("/healthz")).send() {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "herold serve did not become healthy"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn command(dir: &Path, env: &[(String, String)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_herold"));
        cmd.current_dir(dir).env_remove("RUST_LOG");
        for (k, _) in std::env::vars() {
            if k.starts_with("HEROLD_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs a CLI command against the same database.
    fn cli(&self, args: &[&str]) -> String {
        let out = Self::command(self.dir.path(), &self.env)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "herold {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs feedparser over a document; returns its JSON summary.
fn validate(body: &str, kind: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("feed.{kind}"));
    std::fs::write(&file, body).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/validate_feed.py");
    let out = Command::new(python())
        .arg(script)
        .arg(&file)
        .arg(kind)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "feedparser rejected the {kind} feed: {}\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const TRICKY: &str = "Straße <gesperrt> & \"Umleitung\" ab 7 Uhr";

fn publish_to_feed(database_url: Option<&str>) {
    let s = Server::start(database_url);
    let http = Client::new();
    assert_eq!(
        http.get(s.url("/readyz")).send().unwrap().status(),
        StatusCode::OK
    );

    s.cli(&[
        "category",
        "add",
        "verkehr",
        "--name",
        "Verkehr & Baustellen",
    ]);
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    // An empty feed is valid too.
    let empty = http.get(s.url("/feeds/verkehr.atom")).send().unwrap();
    assert_eq!(empty.status(), StatusCode::OK);
    validate(&empty.text().unwrap(), "atom");

    s.cli(&[
        "publish",
        "--category",
        "verkehr",
        "--title",
        TRICKY,
        "--body",
        "Die **Hauptstraße** ist gesperrt. <script>alert(1)</script>",
        "--urgent",
    ]);
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne",
        "--body",
        "Leerung am Samstag.",
    ]);
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Noch nicht",
        "--body",
        "Später.",
        "--at",
        "2099-01-01T00:00:00Z",
    ]);

    // The all-categories Atom feed: newest first, escaped text intact.
    let r = http.get(s.url("/feeds/all.atom")).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/atom+xml"));
    let etag = r.headers()[header::ETAG].to_str().unwrap().to_owned();
    let last_modified = r.headers()[header::LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_owned();
    let body = r.text().unwrap();
    assert!(
        !body.contains("<script>"),
        "raw HTML must be escaped:\n{body}"
    );
    let atom = validate(&body, "atom");
    assert_eq!(atom["title"], "Gemeinde Musterstadt: alle Bekanntmachungen");
    let titles: Vec<_> = atom["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        titles,
        ["Biotonne", TRICKY],
        "scheduled announcements stay out of feeds"
    );
    assert!(atom["entries"][1]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "urgent"));
    assert_eq!(atom["entries"][0]["link"], s.url("/announcements/2"));

    // Per-category feeds in both formats.
    let rss = http.get(s.url("/feeds/verkehr.rss")).send().unwrap();
    assert_eq!(rss.status(), StatusCode::OK);
    assert!(rss.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/rss+xml"));
    let rss = validate(&rss.text().unwrap(), "rss");
    assert_eq!(rss["entries"].as_array().unwrap().len(), 1);
    assert_eq!(rss["entries"][0]["title"], TRICKY);
    let abfall = validate(
        &http
            .get(s.url("/feeds/abfall.atom"))
            .send()
            .unwrap()
            .text()
            .unwrap(),
        "atom",
    );
    assert_eq!(abfall["title"], "Gemeinde Musterstadt: Abfall");
    assert_eq!(abfall["entries"].as_array().unwrap().len(), 1);
    assert_eq!(
        http.get(s.url("/feeds/nope.atom")).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        http.get(s.url("/feeds/abfall.json"))
            .send()
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    // Conditional GET: both validators give 304 with no body.
    let r = http
        .get(s.url("/feeds/all.atom"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(r.headers()[header::ETAG].to_str().unwrap(), etag);
    assert!(r.text().unwrap().is_empty());
    let r = http
        .get(s.url("/feeds/all.atom"))
        .header(header::IF_MODIFIED_SINCE, &last_modified)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = http
        .get(s.url("/feeds/all.atom"))
        .header(header::IF_NONE_MATCH, "\"other\"")
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .get(s.url("/feeds/all.atom"))
        .header(header::IF_MODIFIED_SINCE, "Thu, 01 Jan 2015 00:00:00 GMT")
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // A new announcement changes the validator.
    std::thread::sleep(Duration::from_millis(1100));
    s.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Korrektur: Sonntag",
        "--body",
        "Leerung am Sonntag.",
        "--corrects",
        "2",
    ]);
    let r = http
        .get(s.url("/feeds/all.atom"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_ne!(r.headers()[header::ETAG].to_str().unwrap(), etag);
    let atom = validate(&r.text().unwrap(), "atom");
    assert!(atom["entries"][0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "correction"));
    let r = http
        .get(s.url("/feeds/all.atom"))
        .header(header::IF_MODIFIED_SINCE, &last_modified)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    assert_eq!(
        http.get(s.url("/nowhere")).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn publish_then_read_feeds_on_sqlite() {
    publish_to_feed(None);
}

#[test]
fn publish_then_read_feeds_on_postgres() {
    let pg = common::PgDatabase::create();
    publish_to_feed(Some(&pg.url));
}
