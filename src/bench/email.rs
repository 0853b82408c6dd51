//! `herold bench --smtp`: e-mail through the real adapter to a real SMTP
//! server, and that server's ceiling, measured by a minimal pooled client in
//! the same run with as many connections and mails of the same size.

use anyhow::{anyhow, Context, Result};
use async_trait::async_trait;
use herold_channel_api::{Capabilities, Channel, ChannelKind, OutboundMessage, Receipt, SendError};
use herold_channel_email::{build_announcement, smtp_ceiling, EmailChannel, EmailConfig, Security};
use serde::Serialize;
use std::sync::{Arc, OnceLock};

/// Where the ceiling's mails go: a domain of their own, so that a sink can
/// count them apart from Herold's (`…@example.org`).
pub const CEILING_RECIPIENT: &str = "ceiling@ceiling.example.org";

/// The sender when there is no `[email]` section.
const BENCH_FROM: &str = "Herold Bench <bench@example.org>";

/// The e-mail part of a report.
#[derive(Debug, Clone, Serialize)]
pub struct EmailFigures {
    /// The SMTP server, `host:port`.
    pub server: String,
    /// SMTP connections of Herold (all workers) and of the ceiling client.
    pub connections: u32,
    /// Size of one mail as Herold sends it; the ceiling client sends a
    /// copy of that mail.
    pub message_bytes: usize,
    /// Mails the ceiling client sent (as many as Herold).
    pub ceiling_mails: u64,
    pub ceiling_mails_per_s: f64,
    /// Herold's mails per second in percent of the ceiling.
    pub ratio_pct: f64,
}

/// The e-mail settings of a run: sender, security, credentials and DKIM
/// from `[email]` if there is one (else a plain connection and a bench
/// sender), the server from `--smtp`, the pool from `connections` (else
/// `pool_max_size`).
pub fn config(
    base: Option<&EmailConfig>,
    server: &str,
    connections: Option<u32>,
) -> Result<EmailConfig> {
    let (host, port) = parse_server(server)?;
    let mut cfg = base
        .cloned()
        .unwrap_or_else(|| EmailConfig::new(host.clone(), port, Security::Plain, BENCH_FROM));
    cfg.host = host;
    cfg.port = Some(port);
    if let Some(n) = connections {
        cfg.pool_max_size = n;
    }
    cfg.validate()
        .context("the e-mail settings of the benchmark are invalid")?;
    Ok(cfg)
}

/// `host:port` or `[v6]:port`.
fn parse_server(server: &str) -> Result<(String, u16)> {
    let bad = || anyhow!("--smtp {server:?}: expected HOST:PORT, e.g. 127.0.0.1:2525");
    let (host, port) = server.rsplit_once(':').ok_or_else(bad)?;
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

/// The real e-mail adapter, passed through, keeping a copy of the first
/// mail it sends (built once more with the adapter's own sender).
pub struct MeasuredEmail {
    inner: EmailChannel,
    sample: OnceLock<Vec<u8>>,
}

impl MeasuredEmail {
    /// The adapter for `cfg`.
    pub fn new(cfg: EmailConfig) -> Result<Arc<Self>> {
        Ok(Arc::new(Self {
            inner: EmailChannel::new(cfg)?,
            sample: OnceLock::new(),
        }))
    }

    /// Fails with a clear message unless the server answers as SMTP server.
    pub async fn check(&self, server: &str) -> Result<()> {
        self.inner.test_connection().await.map_err(|e| {
            anyhow!(
                "cannot reach the SMTP server at {server}: {e}\n\
                 start one with: .test-peers/venv/bin/python scripts/bench-smtp-sink.py --port PORT"
            )
        })
    }

    /// Closes the pooled connections.
    pub async fn shutdown(&self) {
        self.inner.shutdown().await;
    }

    /// The first mail sent, as it went over the wire.
    pub fn sample(&self) -> Option<&[u8]> {
        self.sample.get().map(Vec::as_slice)
    }
}

#[async_trait]
impl Channel for MeasuredEmail {
    fn kind(&self) -> ChannelKind {
        self.inner.kind()
    }

    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<Receipt, SendError> {
        if self.sample.get().is_none() {
            if let Ok(built) = build_announcement(self.inner.sender(), msg) {
                let _ = self.sample.set(built.message.formatted());
            }
        }
        self.inner.send(msg).await
    }
}

/// Mails per second the server takes from a minimal pooled client with
/// `connections` connections: `mails` copies of `sample`.
pub async fn ceiling(
    cfg: &EmailConfig,
    sample: Option<&[u8]>,
    mails: u64,
    connections: u32,
) -> Result<f64> {
    let mails = usize::try_from(mails).context("too many mails")?;
    smtp_ceiling(cfg, CEILING_RECIPIENT, sample, mails, connections as usize)
        .await
        .context("the ceiling run against the SMTP server failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses() {
        assert_eq!(
            parse_server("127.0.0.1:2525").unwrap(),
            ("127.0.0.1".into(), 2525)
        );
        assert_eq!(parse_server("[::1]:25").unwrap(), ("::1".into(), 25));
        assert_eq!(
            parse_server("localhost:2525").unwrap(),
            ("localhost".into(), 2525)
        );
        for bad in ["127.0.0.1", ":2525", "host:0", "host:x", "host:70000"] {
            assert!(parse_server(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_from_flags_and_config() {
        let plain = config(None, "127.0.0.1:2525", Some(4)).unwrap();
        assert_eq!(
            (plain.host.as_str(), plain.effective_port()),
            ("127.0.0.1", 2525)
        );
        assert_eq!(plain.security, Security::Plain);
        assert_eq!(plain.pool_max_size, 4);

        let mut base = EmailConfig::new(
            "smtp.musterstadt.de",
            587,
            Security::Starttls,
            "Gemeinde Musterstadt <info@musterstadt.de>",
        );
        base.pool_max_size = 3;
        let from_config = config(Some(&base), "localhost:2525", None).unwrap();
        assert_eq!(from_config.host, "localhost");
        assert_eq!(from_config.security, Security::Starttls);
        assert_eq!(from_config.from, base.from);
        assert_eq!(from_config.pool_max_size, 3);

        assert!(config(None, "127.0.0.1:2525", Some(0)).is_err());
    }
}
