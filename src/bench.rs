//! `herold bench`: the delivery engine end to end against a fake provider,
//! with the figures docs/benchmarks.md reports.
//!
//! It creates subscribers, publishes one announcement (timing `publish`),
//! publishes an urgent one once a tenth of the first is out (timing its
//! first delivery), and runs the engine until every delivery is sent.

use anyhow::{anyhow, Context, Result};
use herold_channel_api::ChannelKind;
use serde::Serialize;
use std::{
    path::PathBuf,
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use crate::{
    config::{Config, RateConfig},
    engine::{self, fake_server::FakeServer, Engine},
    service::{Herold, PublishRequest, CONSENT_WORDING_VERSION},
};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub subscribers: usize,
    pub channels: usize,
    pub workers: usize,
    /// `None`: a fresh SQLite file in a temporary directory.
    pub database_url: Option<String>,
    /// Messages per second the fake provider accepts (429 above).
    pub provider_limit: Option<f64>,
    /// An external fake provider; by default one runs in-process (or on
    /// loopback when `provider_limit` or `http` is set).
    pub provider_url: Option<String>,
    /// Use the fake provider over HTTP on loopback.
    pub http: bool,
    pub json: bool,
}

/// The results, as printed with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub deliveries: u64,
    pub deliveries_per_s: f64,
    pub cpu_us_per_delivery: f64,
    pub publish_ms: f64,
    pub first_urgent_ms: f64,
    pub peak_rss_mib: f64,
    pub http_429: u64,
    pub backend: String,
    pub subscribers: usize,
    pub channels: usize,
    pub workers: usize,
    pub provider: String,
}

const CHANNELS: [ChannelKind; 4] = [
    ChannelKind::Email,
    ChannelKind::Telegram,
    ChannelKind::Matrix,
    ChannelKind::WhatsApp,
];

fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass and reads nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Runs the benchmark.
pub fn run(base: Config, opts: &BenchOptions) -> Result<BenchReport> {
    if opts.subscribers == 0
        || opts.channels == 0
        || opts.channels > CHANNELS.len()
        || opts.workers == 0
    {
        return Err(anyhow!(
            "--subscribers and --workers must be at least 1 and --channels from 1 to {}",
            CHANNELS.len()
        ));
    }
    let tmp = std::env::temp_dir().join(format!(
        "herold-bench-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let database_url = match &opts.database_url {
        Some(u) => u.clone(),
        None => {
            std::fs::create_dir_all(&tmp).context("cannot create a temporary directory")?;
            tmp.join("bench.db").display().to_string()
        }
    };
    let own_server = match (&opts.provider_url, opts.provider_limit, opts.http) {
        (None, Some(_), _) | (None, None, true) => Some(
            FakeServer::start(opts.provider_limit, false)
                .context("cannot start the fake provider")?,
        ),
        _ => None,
    };
    let provider = match (&opts.provider_url, &own_server) {
        (Some(u), _) => u.clone(),
        (None, Some(s)) => s.url().to_owned(),
        (None, None) => "memory".to_owned(),
    };
    let channels: Vec<ChannelKind> = CHANNELS[..opts.channels].to_vec();
    let mut config = Config {
        database_url,
        secret_key_file: Some(PathBuf::from(format!("{}.key", tmp.display()))),
        pool_size: 8,
        ..base
    };
    config.secret_key = None;
    config.delivery.channels = channels.clone();
    config.delivery.test_provider = Some(provider.clone());
    config.delivery.poll_interval_ms = 20;
    config.delivery.batch_size = 1000;
    config.delivery.concurrency = if provider == "memory" { 1024 } else { 64 };
    let (rate, burst) = match opts.provider_limit {
        // Stay just under the provider's limit, with small bursts.
        Some(l) => (l * 0.98, ((l / 20.0) as u32).max(1)),
        None => (1e9, 1_000_000),
    };
    for ch in &channels {
        config.delivery.rates.insert(
            *ch,
            RateConfig {
                per_second: rate,
                burst,
            },
        );
    }
    // A fresh key for a fresh database.
    if std::fs::metadata(
        config
            .secret_key_file
            .as_deref()
            .unwrap_or(std::path::Path::new("")),
    )
    .is_err()
    {
        if let Some(p) = &config.secret_key_file {
            std::fs::write(p, crate::crypto::Keyring::generate_encoded().as_bytes())
                .context("cannot write the benchmark key")?;
        }
    }
    let app = Herold::open(config.clone())?;
    let backend = app.db.backend().to_owned();
    let category = format!("bench-{:08x}", rand::random::<u32>());
    let cat = app.add_category(&category, "Benchmark", "bench")?;

    let progress = |msg: &str| {
        if !opts.json {
            eprintln!("{msg}");
        }
    };
    progress(&format!(
        "creating {} subscribers on {} channel(s) ({backend})…",
        opts.subscribers, opts.channels
    ));
    for (i, ch) in channels.iter().enumerate() {
        let addresses: Vec<String> = (0..opts.subscribers)
            .map(|n| match ch {
                ChannelKind::Telegram => format!("{}", 100_000_000 + n),
                ChannelKind::Matrix => format!("@bench{n}:example.org"),
                ChannelKind::WhatsApp => format!("+49151{:08}", n),
                _ => format!("bench{n}.{i}@example.org"),
            })
            .collect();
        for chunk in addresses.chunks(50_000) {
            app.db
                .import_subscribers(*ch, chunk, cat.id, CONSENT_WORDING_VERSION, "bench")?;
        }
    }

    let total = (opts.subscribers * opts.channels * 2) as u64;
    let engines: Vec<Engine> = (0..opts.workers)
        .map(|_| {
            Ok(Engine::new(
                Herold::open(config.clone())?,
                engine::adapters(&config)?,
            ))
        })
        .collect::<Result<_>>()?;
    let counters: Vec<_> = engines.iter().map(|e| e.counters_handle()).collect();
    let sent = || {
        counters
            .iter()
            .map(|c| c.sent.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let urgent_sent = || {
        counters
            .iter()
            .map(|c| c.urgent_sent.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let rate_limited = || {
        counters
            .iter()
            .map(|c| c.rate_limited.load(Ordering::Relaxed))
            .sum::<u64>()
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let bar = (!opts.json).then(|| {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} deliveries ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handles: Vec<_> = engines
        .into_iter()
        .map(|e| rt.spawn(e.run(stopped.clone())))
        .collect();

    let cpu0 = cpu_time();
    let start = Instant::now();
    let publish = |title: &str, urgent: bool| {
        app.publish(&PublishRequest {
            category: category.clone(),
            title: title.into(),
            body: "Benchmark".into(),
            urgent,
            at: None,
            corrects: None,
            author: "bench".into(),
            event: None,
        })
    };
    let t = Instant::now();
    publish("Normal", false)?;
    let publish_ms = t.elapsed().as_secs_f64() * 1000.0;
    let mut urgent_at: Option<Instant> = None;
    let mut first_urgent_ms = f64::NAN;
    let deadline = Duration::from_secs(3600);
    loop {
        let done = sent();
        if let Some(b) = &bar {
            b.set_position(done);
        }
        if urgent_at.is_none() && done >= total / 20 {
            publish("Dringend", true)?;
            urgent_at = Some(Instant::now());
        }
        if let Some(at) = urgent_at {
            if first_urgent_ms.is_nan() && urgent_sent() > 0 {
                first_urgent_ms = at.elapsed().as_secs_f64() * 1000.0;
            }
        }
        if done >= total {
            break;
        }
        if start.elapsed() > deadline {
            return Err(anyhow!(
                "the benchmark did not finish within an hour ({done} of {total} delivered)"
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let elapsed = start.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    let _ = stop.send(true);
    for h in handles {
        rt.block_on(h)??;
    }
    if let Some(b) = bar {
        b.finish();
    }
    let http_429 = own_server
        .as_ref()
        .map_or_else(rate_limited, FakeServer::throttled);
    drop(own_server);
    if opts.database_url.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    if let Some(p) = &config.secret_key_file {
        let _ = std::fs::remove_file(p);
    }
    Ok(BenchReport {
        deliveries: total,
        deliveries_per_s: total as f64 / elapsed.as_secs_f64(),
        cpu_us_per_delivery: cpu.as_secs_f64() * 1e6 / total as f64,
        publish_ms,
        first_urgent_ms,
        peak_rss_mib: peak_rss_mib(),
        http_429,
        backend,
        subscribers: opts.subscribers,
        channels: opts.channels,
        workers: opts.workers,
        provider: if provider == "memory" {
            "in-process".into()
        } else {
            provider
        },
    })
}

impl BenchReport {
    /// Human-readable lines.
    pub fn print(&self) {
        println!(
            "backend            {} ({} worker(s))",
            self.backend, self.workers
        );
        println!("provider           {}", self.provider);
        println!(
            "deliveries         {} ({} subscribers × {} channel(s) × 2 announcements)",
            self.deliveries, self.subscribers, self.channels
        );
        println!("deliveries/s       {:.0}", self.deliveries_per_s);
        println!("CPU per delivery   {:.1} µs", self.cpu_us_per_delivery);
        println!("publish            {:.1} ms", self.publish_ms);
        println!(
            "first urgent       {:.1} ms after publish",
            self.first_urgent_ms
        );
        println!("peak RSS           {:.0} MiB", self.peak_rss_mib);
        println!("429s received      {}", self.http_429);
    }
}
