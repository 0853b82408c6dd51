//! The staff application's pages at municipal scale: a database with
//! 100,000 subscribers (e-mail and Telegram, two categories), 10,000
//! announcements and 200 open conversations, served by the release
//! `herold serve`; each page is requested one after another (latency:
//! median, 95th percentile, slowest) and, where `wrk` is installed, under
//! load (`wrk -t1 -c32 -d5s`, requests per second) — beside nginx (one
//! worker) serving the same HTML as a static file, measured the same way.
//! docs/benchmarks.md ("Staff pages") has the command and the figures.
//!
//! ```sh
//! cargo bench --bench staff_pages -- [--subscribers N] [--announcements N] [--database-url URL] [--json]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/options.rs"]
mod options;

use anyhow::{anyhow, Context, Result};
use herold::{
    config::Config,
    crypto::Keyring,
    domain::Role,
    service::{Herold, PublishRequest, CONSENT_WORDING_VERSION},
};
use herold_channel_api::ChannelKind;
use reqwest::blocking::Client;
use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const PASSWORD: &str = "benchmark-passwort-2026";
const SEQUENTIAL: usize = 100;
const PAGES: [&str; 7] = [
    "/staff",
    "/staff/announcements",
    "/staff/compose",
    "/staff/inbox",
    "/staff/statistics",
    "/staff/reports",
    "/staff/audit",
];

struct Options {
    subscribers: usize,
    announcements: usize,
    database_url: Option<String>,
    json: bool,
}

fn options() -> Result<Options> {
    let p = options::parse(&[("--subscribers", 100_000), ("--announcements", 10_000)])?;
    Ok(Options {
        subscribers: usize::try_from(p.count("--subscribers"))?,
        announcements: usize::try_from(p.count("--announcements"))?,
        database_url: p.database_url,
        json: p.json,
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Subscribers, announcements, conversations and a staff account.
fn seed(app: &Herold, o: &Options) -> Result<()> {
    let started = Instant::now();
    let abfall = app.add_category("abfall", "Abfall und Wertstoffe", "bench")?;
    let verkehr = app.add_category("verkehr", "Verkehr und Baustellen", "bench")?;
    let half = o.subscribers / 2;
    let mails: Vec<String> = (0..half)
        .map(|n| format!("einwohner{n}@example.org"))
        .collect();
    let chats: Vec<String> = (0..o.subscribers - half)
        .map(|n| (100_000_000 + n).to_string())
        .collect();
    app.db().import_subscribers(
        ChannelKind::Email,
        &mails,
        abfall.id,
        CONSENT_WORDING_VERSION,
        "bench",
    )?;
    app.db().import_subscribers(
        ChannelKind::Telegram,
        &chats,
        verkehr.id,
        CONSENT_WORDING_VERSION,
        "bench",
    )?;
    eprintln!(
        "seeded {} subscribers in {:.1?}",
        o.subscribers,
        started.elapsed()
    );
    let started = Instant::now();
    for n in 0..o.announcements {
        app.publish(&PublishRequest {
            category: if n % 2 == 0 { "abfall" } else { "verkehr" }.into(),
            title: format!("Bekanntmachung {n}: Sperrung der Hauptstraße"),
            body:
                "Wegen Bauarbeiten ist die **Hauptstraße** gesperrt. Umleitung über den Lindenweg."
                    .into(),
            urgent: n % 50 == 0,
            at: None,
            corrects: None,
            author: "bench".into(),
            event: None,
        })?;
    }
    eprintln!(
        "published {} announcements in {:.1?}",
        o.announcements,
        started.elapsed()
    );
    for n in 0..200 {
        app.resident_message(
            ChannelKind::Telegram,
            &(100_000_000 + n).to_string(),
            "Die Laterne vor Hausnummer 3 ist dunkel.",
            &format!("bench-{n}"),
        )?;
    }
    app.add_staff_user("ada", "Ada Admin", Role::Admin, PASSWORD, "bench")
        .map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// Median, 95th percentile and slowest of `SEQUENTIAL` requests.
fn latencies(http: &Client, url: &str, cookie: Option<&str>) -> Result<[Duration; 3]> {
    let get = || {
        let mut r = http.get(url);
        if let Some(c) = cookie {
            r = r.header("Cookie", c);
        }
        r.send()
    };
    for _ in 0..5 {
        get()?.bytes()?;
    }
    let mut times = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        let t = Instant::now();
        let r = get()?;
        if !r.status().is_success() {
            return Err(anyhow!("{url}: {}", r.status()));
        }
        r.bytes()?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok([
        times[times.len() / 2],
        times[times.len() * 95 / 100],
        times[times.len() - 1],
    ])
}

/// Requests per second under `wrk -t1 -c32 -d5s`, if wrk is installed.
fn wrk(url: &str, cookie: Option<&str>) -> Option<f64> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", "-c32", "-d5s", url]);
    if let Some(c) = cookie {
        cmd.args(["-H", &format!("Cookie: {c}")]);
    }
    let out = cmd.output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
}

/// nginx with one worker serving `root` on `port`, if installed.
fn nginx(root: &Path, port: u16) -> Option<Child> {
    let conf = root.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 1; daemon off; pid {root}/nginx.pid; error_log {root}/error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{ access_log off; default_type text/html; server {{ listen 127.0.0.1:{port}; root {root}/html; }} }}\n",
            root = root.display()
        ),
    )
    .ok()?;
    let child = Command::new("nginx")
        .args(["-c", conf.to_str()?, "-p", root.to_str()?])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_millis(500));
    Some(child)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() -> Result<()> {
    let o = options()?;
    let tmp = tempfile::tempdir()?;
    let key = tmp.path().join("bench.key");
    herold::storage::write_key_file(&key, &Keyring::generate_encoded())?;
    let database_url = o
        .database_url
        .clone()
        .unwrap_or_else(|| tmp.path().join("bench.db").display().to_string());
    let config = Config {
        database_url: database_url.clone(),
        secret_key_file: Some(key.clone()),
        ..Config::default()
    };
    let app = Herold::open(config)?;
    seed(&app, &o)?;
    drop(app);

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_herold"))
        .arg("serve")
        .env("HEROLD_DATABASE_URL", &database_url)
        .env("HEROLD_SECRET_KEY_FILE", &key)
        .env("HEROLD_LISTEN", format!("127.0.0.1:{port}"))
        .env("HEROLD_PUBLIC_URL", format!("{base}/"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let started = Instant::now();
    while http.get(format!("{base}/healthz")).send().is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            return Err(anyhow!("herold serve did not start"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Sign in: the sign-in form's CSRF cookie and token, then the session.
    let form = http.get(format!("{base}/staff/login")).send()?;
    let login_cookie = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("herold_login="))
        .and_then(|c| c.split(';').next())
        .context("no sign-in cookie")?
        .to_owned();
    let page = form.text()?;
    let at = page
        .find("name=\"csrf\" value=\"")
        .context("no CSRF token")?;
    let csrf = page[at + 19..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned();
    let signed = http
        .post(format!("{base}/staff/login"))
        .header("Cookie", &login_cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "ada"),
            ("password", PASSWORD),
        ])
        .send()?;
    let session = signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("herold_staff="))
        .and_then(|c| c.split(';').next())
        .context("sign-in failed")?
        .to_owned();

    // nginx serves each page's HTML as a static file.
    let html = tmp.path().join("html");
    std::fs::create_dir_all(&html)?;
    let mut rows = Vec::new();
    for (i, p) in PAGES.iter().enumerate() {
        let body = http
            .get(format!("{base}{p}"))
            .header("Cookie", &session)
            .send()?
            .bytes()?;
        std::fs::write(html.join(format!("{i}.html")), &body)?;
        rows.push((p, body.len()));
    }
    let nginx_port = free_port();
    let mut nginx = nginx(tmp.path(), nginx_port);

    let mut results = Vec::new();
    for (i, (path, bytes)) in rows.iter().enumerate() {
        let url = format!("{base}{path}");
        let herold = latencies(&http, &url, Some(&session))?;
        let herold_rps = wrk(&url, Some(&session));
        let (static_lat, static_rps) = match nginx {
            Some(_) => {
                let url = format!("http://127.0.0.1:{nginx_port}/{i}.html");
                (Some(latencies(&http, &url, None)?), wrk(&url, None))
            }
            None => (None, None),
        };
        results.push(serde_json::json!({
            "page": path,
            "bytes": bytes,
            "herold_ms": {"p50": ms(herold[0]), "p95": ms(herold[1]), "max": ms(herold[2])},
            "herold_rps": herold_rps,
            "nginx_ms": static_lat.map(|l| serde_json::json!({"p50": ms(l[0]), "p95": ms(l[1]), "max": ms(l[2])})),
            "nginx_rps": static_rps,
        }));
    }
    let _ = serve.kill();
    let _ = serve.wait();
    if let Some(n) = nginx.as_mut() {
        let _ = n.kill();
        let _ = n.wait();
    }
    if o.json {
        println!(
            "{}",
            serde_json::json!({
                "subscribers": o.subscribers,
                "announcements": o.announcements,
                "pages": results,
            })
        );
        return Ok(());
    }
    println!(
        "{} subscribers, {} announcements; {SEQUENTIAL} sequential requests per page, wrk -t1 -c32 -d5s",
        o.subscribers, o.announcements
    );
    println!(
        "{:<22} {:>7}  {:>8} {:>8} {:>8} {:>9}   {:>8} {:>9}",
        "page", "bytes", "p50 ms", "p95 ms", "max ms", "req/s", "nginx p50", "nginx req/s"
    );
    for r in &results {
        let f = |v: &serde_json::Value| v.as_f64().map_or("–".to_owned(), |x| format!("{x:.1}"));
        println!(
            "{:<22} {:>7}  {:>8} {:>8} {:>8} {:>9}   {:>8} {:>9}",
            r["page"].as_str().unwrap_or_default(),
            r["bytes"],
            f(&r["herold_ms"]["p50"]),
            f(&r["herold_ms"]["p95"]),
            f(&r["herold_ms"]["max"]),
            f(&r["herold_rps"]),
            f(&r["nginx_ms"]["p50"]),
            f(&r["nginx_rps"]),
        );
    }
    Ok(())
}
