//! Webhook endpoints under load: the release `herold serve` receives
//! residents' messages from Telegram (secret-token header) and WhatsApp
//! (signed bodies) as fast as 32 connections on loopback send them, for a
//! set time, while its inbound processor answers through the faithful fake
//! Bot API and Cloud API (`tests/common/`). Every request must be accepted
//! (200): a provider retries what is not, and a resident's report must not
//! be lost. Reports throughput, latency (median, 99th percentile, slowest)
//! and how long the processor took to work through what was stored.
//! docs/benchmarks.md ("Webhooks under load") has the figures.
//!
//! ```sh
//! cargo bench --bench webhook_load -- [--seconds 60] [--residents 5000] [--database-url URL] [--json]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/fake_telegram.rs"]
mod fake_telegram;
#[path = "../tests/common/fake_whatsapp.rs"]
mod fake_whatsapp;
#[path = "common/options.rs"]
mod options;

use anyhow::{anyhow, Result};
use fake_telegram::FakeTelegram;
use fake_whatsapp::FakeWhatsApp;
use herold::{config::Config, crypto::Keyring, service::Herold};
use serde_json::json;
use std::{
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

const TOKEN: &str = "4711:bench-telegram-token";
const SECRET: &str = "bench-webhook-secret";
const PHONE_ID: &str = "100200300";
const WA_TOKEN: &str = "EAAbench-token";
const APP_SECRET: &str = "bench-app-secret";
const CONNECTIONS: usize = 32;
/// What residents write: commands and reports.
const TEXTS: [&str; 4] = [
    "Hilfe",
    "Kategorien",
    "Die Straßenlaterne vor Hausnummer 12 ist seit gestern dunkel.",
    "Start",
];

struct Options {
    seconds: u64,
    residents: u64,
    database_url: Option<String>,
    json: bool,
}

fn options() -> Result<Options> {
    let p = options::parse(&[("--seconds", 60), ("--residents", 5000)])?;
    Ok(Options {
        seconds: p.count("--seconds"),
        residents: p.count("--residents"),
        database_url: p.database_url,
        json: p.json,
    })
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// One request: the path, its headers and body.
struct Hook {
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

/// The `n`th request: Telegram and WhatsApp in turn, residents in turn.
fn hook(n: u64, residents: u64, wa: &FakeWhatsApp) -> Hook {
    let resident = n / 2 % residents;
    let text = TEXTS[(n / 2 / residents % TEXTS.len() as u64) as usize];
    if n.is_multiple_of(2) {
        let chat = 1_000_000 + resident as i64;
        let body = json!({
            "update_id": 900_000_000 + n,
            "message": {
                "message_id": n, "date": 1_764_400_000,
                "chat": {"id": chat, "type": "private", "first_name": "Erika"},
                "from": {"id": chat, "is_bot": false, "first_name": "Erika"},
                "text": text
            }
        })
        .to_string()
        .into_bytes();
        Hook {
            path: "/webhooks/telegram",
            headers: vec![("X-Telegram-Bot-Api-Secret-Token", SECRET.to_owned())],
            body,
        }
    } else {
        let body = wa
            .text_message(&format!("+49151{resident:07}"), text)
            .to_string()
            .into_bytes();
        Hook {
            path: "/webhooks/whatsapp",
            headers: vec![("X-Hub-Signature-256", wa.sign(&body))],
            body,
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

fn main() -> Result<()> {
    let o = options()?;
    let telegram = FakeTelegram::start(TOKEN);
    telegram.accept_any_private_chat(true);
    let wa = Arc::new(FakeWhatsApp::start(PHONE_ID, WA_TOKEN, APP_SECRET));
    wa.add_template("gemeinde_info", "de", "{{1}}\n\n{{2}}\n\nMehr: {{3}}");
    let tmp = tempfile::tempdir()?;
    let key = tmp.path().join("bench.key");
    herold::storage::write_key_file(&key, &Keyring::generate_encoded())?;
    let database_url = o
        .database_url
        .clone()
        .unwrap_or_else(|| tmp.path().join("bench.db").display().to_string());
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let env = [
        ("HEROLD_DATABASE_URL", database_url.clone()),
        ("HEROLD_SECRET_KEY_FILE", key.display().to_string()),
        ("HEROLD_LISTEN", format!("127.0.0.1:{port}")),
        ("HEROLD_PUBLIC_URL", format!("{base}/")),
        (
            "HEROLD_DELIVERY__CHANNELS",
            r#"["telegram","whatsapp"]"#.into(),
        ),
        ("HEROLD_TELEGRAM__API_URL", telegram.url().to_owned()),
        ("HEROLD_TELEGRAM__TOKEN", TOKEN.into()),
        ("HEROLD_TELEGRAM__WEBHOOK_SECRET", SECRET.into()),
        ("HEROLD_TELEGRAM__MODE", "webhook".into()),
        ("HEROLD_WHATSAPP__API_URL", wa.url().to_owned()),
        ("HEROLD_WHATSAPP__ACCESS_TOKEN", WA_TOKEN.into()),
        ("HEROLD_WHATSAPP__PHONE_NUMBER_ID", PHONE_ID.into()),
        ("HEROLD_WHATSAPP__APP_SECRET", APP_SECRET.into()),
        ("HEROLD_WHATSAPP__VERIFY_TOKEN", "bench".into()),
        (
            "HEROLD_WHATSAPP__TEMPLATES__BROADCAST__NAME",
            "gemeinde_info".into(),
        ),
        (
            "HEROLD_WHATSAPP__TEMPLATES__BROADCAST__LANGUAGE",
            "de".into(),
        ),
        ("RUST_LOG", "warn".into()),
    ];
    let mut serve = Command::new(env!("CARGO_BIN_EXE_herold"))
        .arg("serve")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let rt = tokio::runtime::Runtime::new()?;
    let result = rt.block_on(run(&o, &base, wa.clone()));
    // The processor's backlog: wait until every stored event is handled.
    let drained = result.as_ref().ok().map(|_| {
        let mut config = Config {
            database_url,
            secret_key_file: Some(key.clone()),
            ..Config::default()
        };
        config.delivery.channels = vec![];
        let started = Instant::now();
        let app = Herold::open(config).ok()?;
        loop {
            let states = app.db().inbound_states().ok()?;
            let open = states
                .iter()
                .filter(|s| s.state != "done" && s.state != "failed")
                .count();
            if open == 0 {
                let failed = states.iter().filter(|s| s.state == "failed").count();
                return Some((started.elapsed(), states.len(), failed));
            }
            if started.elapsed() > Duration::from_secs(600) {
                return None;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let _ = serve.kill();
    let _ = serve.wait();
    let (requests, errors, mut latencies, span) = result?;
    latencies.sort_unstable();
    let per_s = requests as f64 / span.as_secs_f64();
    let (p50, p99, max) = (
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
    let drained = drained.flatten();
    if o.json {
        println!(
            "{}",
            json!({
                "requests": requests, "errors": errors, "per_s": per_s,
                "p50_ms": p50, "p99_ms": p99, "max_ms": max,
                "stored": drained.map(|d| d.1), "failed": drained.map(|d| d.2),
                "drain_s": drained.map(|d| d.0.as_secs_f64()),
                "backend": if o.database_url.is_some() { "postgres" } else { "sqlite" },
            })
        );
    } else {
        println!(
            "{requests} webhook requests in {:.1} s: {per_s:.0}/s, {errors} not accepted; \
             latency p50 {p50:.2} ms, p99 {p99:.2} ms, slowest {max:.1} ms",
            span.as_secs_f64()
        );
        match drained {
            Some((t, stored, failed)) => println!(
                "{stored} events stored; the processor finished them {:.1} s after the load ended ({failed} failed)",
                t.as_secs_f64()
            ),
            None => println!("the processor did not finish within 10 minutes"),
        }
    }
    if errors > 0 {
        return Err(anyhow!("{errors} webhook requests were not accepted"));
    }
    Ok(())
}

/// The load: `CONNECTIONS` clients, each sending its next request as soon
/// as the previous one is answered, until the time is up.
async fn run(
    o: &Options,
    base: &str,
    wa: Arc<FakeWhatsApp>,
) -> Result<(u64, u64, Vec<u32>, Duration)> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()?;
    let started = Instant::now();
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            return Err(anyhow!("herold serve did not start"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(o.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (http, next, errors, wa) = (http.clone(), next.clone(), errors.clone(), wa.clone());
        let (base, residents) = (base.to_owned(), o.residents);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < until {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let h = hook(n, residents, &wa);
                let mut req = http
                    .post(format!("{base}{}", h.path))
                    .header("content-type", "application/json")
                    .body(h.body);
                for (k, v) in h.headers {
                    req = req.header(k, v);
                }
                let t = Instant::now();
                let ok = req.send().await.is_ok_and(|r| r.status().is_success());
                latencies.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let span = started.elapsed();
    Ok((all.len() as u64, errors.load(Ordering::Relaxed), all, span))
}
