//! `herold bench`: the delivery engine end to end against a fake provider
//! or a real SMTP server, with the figures docs/benchmarks.md reports.
//!
//! It creates subscribers, publishes one announcement (timing `publish`),
//! publishes an urgent one once a twentieth of the deliveries are out
//! (timing its first delivery), and runs the engine until every delivery is
//! sent. With `--smtp` it then measures the server's ceiling (`email`).

mod email;
mod seed;
mod system;

pub use email::{EmailFigures, CEILING_RECIPIENT};

use anyhow::{anyhow, Context, Result};
use herold_channel_api::{Channel, ChannelKind};
use herold_channel_email::EmailConfig;
use serde::Serialize;
use std::{
    path::PathBuf,
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use crate::{
    config::{Config, RateConfig},
    engine::{Counters, Engine},
    service::{Herold, PublishRequest},
};
use email::MeasuredEmail;
use system::{cpu_time, peak_rss_mib};

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
    /// E-mail to this SMTP server (`host:port`) instead of a fake provider.
    pub smtp: Option<String>,
    /// SMTP connections per worker (default: `[email] pool_max_size`).
    pub smtp_connections: Option<u32>,
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
    /// With `--smtp`: the server's ceiling beside Herold's figure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailFigures>,
}

const CHANNELS: [ChannelKind; 4] = [
    ChannelKind::Email,
    ChannelKind::Telegram,
    ChannelKind::Matrix,
    ChannelKind::WhatsApp,
];

/// Longest run; a benchmark that is not done by then reports an error.
const DEADLINE: Duration = Duration::from_secs(3600);
/// Longest time without a single delivery before the run is given up.
const STALL: Duration = Duration::from_secs(60);

/// Where the deliveries go.
enum Provider {
    /// The in-process fake.
    Memory,
    /// A fake over HTTP: its URL and, if it runs in this process, the server.
    Http {
        url: String,
        own: Option<herold_channel_fake::FakeServer>,
    },
    /// A real SMTP server through the e-mail adapter.
    Smtp { server: String, config: EmailConfig },
}

impl Provider {
    fn choose(base: &Config, opts: &BenchOptions) -> Result<Self> {
        if let Some(server) = &opts.smtp {
            if opts.http || opts.provider_url.is_some() || opts.provider_limit.is_some() {
                return Err(anyhow!(
                    "--smtp delivers e-mail to a real server: it cannot be combined with --http, --provider-url or --provider-limit"
                ));
            }
            if opts.channels != 1 {
                return Err(anyhow!(
                    "--smtp benchmarks one channel, e-mail: leave out --channels"
                ));
            }
            let config = email::config(base.email.as_ref(), server, opts.smtp_connections)?;
            return Ok(Provider::Smtp {
                server: server.clone(),
                config,
            });
        }
        if opts.smtp_connections.is_some() {
            return Err(anyhow!("--smtp-connections needs --smtp"));
        }
        Ok(match (&opts.provider_url, opts.provider_limit, opts.http) {
            (Some(url), _, _) => Provider::Http {
                url: url.clone(),
                own: None,
            },
            (None, Some(_), _) | (None, None, true) => {
                let own = herold_channel_fake::FakeServer::start(opts.provider_limit, false)
                    .context("cannot start the fake provider")?;
                Provider::Http {
                    url: own.url().to_owned(),
                    own: Some(own),
                }
            }
            (None, None, false) => Provider::Memory,
        })
    }

    fn name(&self) -> String {
        match self {
            Provider::Memory => "in-process".into(),
            Provider::Http { url, .. } => url.clone(),
            Provider::Smtp { server, .. } => format!("smtp://{server}"),
        }
    }
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
    let provider = Provider::choose(&base, opts)?;
    let tmp = std::env::temp_dir().join(format!(
        "herold-bench-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = run_in(base, opts, &provider, &tmp);
    if opts.database_url.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    let _ = std::fs::remove_file(key_file(&tmp));
    result
}

fn key_file(tmp: &std::path::Path) -> PathBuf {
    PathBuf::from(format!("{}.key", tmp.display()))
}

/// The engine's configuration for `provider`.
fn bench_config(
    base: Config,
    opts: &BenchOptions,
    provider: &Provider,
    tmp: &std::path::Path,
) -> Result<Config> {
    let database_url = match &opts.database_url {
        Some(u) => u.clone(),
        None => {
            std::fs::create_dir_all(tmp).context("cannot create a temporary directory")?;
            tmp.join("bench.db").display().to_string()
        }
    };
    let mut config = Config {
        database_url,
        secret_key_file: Some(key_file(tmp)),
        pool_size: 8,
        ..base
    };
    config.secret_key = None;
    config.delivery.poll_interval_ms = 20;
    config.delivery.batch_size = 1000;
    match provider {
        Provider::Memory => {
            config.delivery.concurrency = 1024;
        }
        Provider::Http { .. } => {
            // Batches take turns at the provider (engine/worker.rs), so
            // this is about the requests in flight.
            config.delivery.concurrency = 128;
        }
        Provider::Smtp { config: email, .. } => {
            config.email = Some(email.clone());
            // As many sends in flight as the pool has connections, and
            // batches of well under a second, so that an urgent
            // announcement does not wait long behind them.
            config.delivery.concurrency = email.pool_max_size;
            config.delivery.batch_size = 250;
        }
    }
    config.delivery.channels = match provider {
        Provider::Smtp { .. } => vec![ChannelKind::Email],
        _ => CHANNELS[..opts.channels].to_vec(),
    };
    let (rate, burst) = match opts.provider_limit {
        // Stay just under the provider's limit, with small bursts.
        Some(l) => (l * 0.98, ((l / 20.0) as u32).max(1)),
        None => (1e9, 1_000_000),
    };
    for ch in config.delivery.channels.clone() {
        config.delivery.rates.insert(
            ch,
            RateConfig {
                per_second: rate,
                burst,
            },
        );
    }
    // A fresh key for a fresh database.
    let key = key_file(tmp);
    if std::fs::metadata(&key).is_err() {
        crate::storage::write_key_file(&key, &crate::crypto::Keyring::generate_encoded())
            .context("cannot write the benchmark key")?;
    }
    Ok(config)
}

/// The fake providers standing in for the benchmark's channels (the SMTP
/// mode uses real e-mail adapters instead). Only the benchmark builds them:
/// `serve` and `worker` cannot be pointed at a fake in a release build.
fn fakes(provider: &Provider, config: &Config) -> Vec<Arc<dyn Channel>> {
    let fake = match provider {
        Provider::Memory => herold_channel_fake::Provider::Memory,
        Provider::Http { url, .. } => herold_channel_fake::Provider::Http(url.clone()),
        Provider::Smtp { .. } => return Vec::new(),
    };
    config
        .delivery
        .channels
        .iter()
        .map(|&kind| {
            herold_channel_fake::adapter(&fake, kind, crate::registry::fake_rate(config, kind))
        })
        .collect()
}

/// The counters of all engines, summed.
struct Totals(Vec<Arc<Counters>>);

impl Totals {
    fn sum(&self, field: impl Fn(&Counters) -> &std::sync::atomic::AtomicU64) -> u64 {
        self.0
            .iter()
            .map(|c| field(c).load(Ordering::Relaxed))
            .sum()
    }
}

fn run_in(
    base: Config,
    opts: &BenchOptions,
    provider: &Provider,
    tmp: &std::path::Path,
) -> Result<BenchReport> {
    let config = bench_config(base, opts, provider, tmp)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // The e-mail adapters' pools spawn tasks when created and dropped.
    let _inside = rt.enter();
    // The e-mail adapters (one pool per worker), checked before the import.
    let mut mailers: Vec<Arc<MeasuredEmail>> = Vec::new();
    if let Provider::Smtp {
        server,
        config: cfg,
    } = provider
    {
        for _ in 0..opts.workers {
            mailers.push(MeasuredEmail::new(cfg.clone())?);
        }
        rt.block_on(mailers[0].check(server))?;
    }

    let app = Herold::open(config.clone())?;
    let backend = app.db().backend().to_owned();
    let category = format!("bench-{:08x}", rand::random::<u32>());
    let cat = app.add_category(&category, "Benchmark", "bench")?;
    let channels = config.delivery.channels.clone();
    if !opts.json {
        eprintln!(
            "creating {} subscribers on {} channel(s) ({backend})…",
            opts.subscribers,
            channels.len()
        );
    }
    seed::subscribers(app.db(), &channels, opts.subscribers, cat.id)?;

    let total = (opts.subscribers * channels.len() * 2) as u64;
    let engines: Vec<Engine> = (0..opts.workers)
        .map(|i| {
            let adapters: Vec<Arc<dyn Channel>> = match mailers.get(i) {
                Some(m) => vec![m.clone() as Arc<dyn Channel>],
                None => fakes(provider, &config),
            };
            // Each worker as its own process would have it: its own
            // database pool and registry, from the composition root.
            let app = crate::app::App::assemble(
                Herold::open(config.clone())?,
                crate::registry::Registry::from_channels(adapters),
            )?;
            Ok(app.engine())
        })
        .collect::<Result<_>>()?;
    let totals = Totals(engines.iter().map(Engine::counters_handle).collect());

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
    let mut progress = (0, Instant::now());
    let waited = loop {
        let done = totals.sum(|c| &c.sent);
        if let Some(b) = &bar {
            b.set_position(done);
        }
        if urgent_at.is_none() && done >= total / 20 {
            publish("Dringend", true)?;
            urgent_at = Some(Instant::now());
        }
        if let Some(at) = urgent_at {
            if first_urgent_ms.is_nan() && totals.sum(|c| &c.urgent_sent) > 0 {
                first_urgent_ms = at.elapsed().as_secs_f64() * 1000.0;
            }
        }
        if done >= total {
            break Ok(());
        }
        if done > progress.0 {
            progress = (done, Instant::now());
        }
        let unsent = totals.sum(|c| &c.failed) + totals.sum(|c| &c.retried);
        if unsent > 0 {
            break Err(anyhow!(
                "{unsent} deliveries failed or wait for a retry: {} refused them or went away",
                provider.name()
            ));
        }
        if progress.1.elapsed() > STALL || start.elapsed() > DEADLINE {
            break Err(anyhow!(
                "the benchmark stalled ({done} of {total} delivered, none for {} s)",
                progress.1.elapsed().as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let elapsed = start.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    let _ = stop.send(true);
    for h in handles {
        rt.block_on(h)??;
    }
    waited?;
    if let Some(b) = bar {
        b.finish();
    }
    let deliveries_per_s = total as f64 / elapsed.as_secs_f64();
    let email = match provider {
        Provider::Smtp {
            server,
            config: cfg,
        } => {
            let sample = mailers.iter().find_map(|m| m.sample());
            let message_bytes = sample.map_or(0, <[u8]>::len);
            let connections = cfg.pool_max_size * opts.workers as u32;
            if !opts.json {
                eprintln!("ceiling: {total} copies of a {message_bytes}-byte mail over {connections} connection(s)…");
            }
            for m in &mailers {
                rt.block_on(m.shutdown());
            }
            let ceiling = rt.block_on(email::ceiling(cfg, sample, total, connections))?;
            Some(EmailFigures {
                server: server.clone(),
                connections,
                message_bytes,
                ceiling_mails: total,
                ceiling_mails_per_s: ceiling,
                ratio_pct: 100.0 * deliveries_per_s / ceiling,
            })
        }
        _ => None,
    };
    let http_429 = match provider {
        Provider::Http { own: Some(s), .. } => s.throttled(),
        _ => totals.sum(|c| &c.rate_limited),
    };
    Ok(BenchReport {
        deliveries: total,
        deliveries_per_s,
        cpu_us_per_delivery: cpu.as_secs_f64() * 1e6 / total as f64,
        publish_ms,
        first_urgent_ms,
        peak_rss_mib: peak_rss_mib(),
        http_429,
        backend,
        subscribers: opts.subscribers,
        channels: channels.len(),
        workers: opts.workers,
        provider: provider.name(),
        email,
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
        if let Some(e) = &self.email {
            println!(
                "SMTP ceiling       {:.0} mails/s ({} copies of a {}-byte mail, {} connection(s), minimal pooled client)",
                e.ceiling_mails_per_s, e.ceiling_mails, e.message_bytes, e.connections
            );
            println!("Herold / ceiling   {:.1} %", e.ratio_pct);
        }
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
