//! The throughput ceiling of an SMTP server, for benchmarks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use herold_channel_api::SendError;
use lettre::message::Mailbox;
use lettre::Message;

use crate::channel::EmailError;
use crate::config::EmailConfig;
use crate::pool::SmtpPool;

/// Why [`smtp_ceiling`] could not measure.
#[derive(Debug, thiserror::Error)]
pub enum CeilingError {
    /// The configuration or transport setup failed.
    #[error(transparent)]
    Setup(#[from] EmailError),
    /// `to` is not an email address.
    #[error("invalid recipient address for the ceiling run")]
    Recipient,
    /// `n_mails` or `concurrency` is zero.
    #[error("n_mails and concurrency must be at least 1")]
    Arguments,
    /// A send failed; the measurement is void.
    #[error("send failed during the ceiling run: {0}")]
    Send(SendError),
}

/// Sends `n_mails` fixed plain-text mails of at least `message_bytes` bytes
/// (0: a tiny one) to `to` through the adapter's connection pool with
/// `concurrency` parallel senders, without templating or DKIM, and returns
/// mails per second.
///
/// This is the server's ceiling for comparison with the adapter's throughput
/// against the same server. `config` provides server, security, credentials
/// and `from`; the pool opens up to `concurrency` connections (or
/// `pool_max_size`, if larger).
pub async fn smtp_ceiling(
    config: &EmailConfig,
    to: &str,
    message_bytes: usize,
    n_mails: usize,
    concurrency: usize,
) -> Result<f64, CeilingError> {
    if n_mails == 0 || concurrency == 0 {
        return Err(CeilingError::Arguments);
    }
    let from = config.sender().map_err(EmailError::from)?.from().clone();
    let to: Mailbox = to
        .parse::<lettre::Address>()
        .map(|a| Mailbox::new(None, a))
        .map_err(|_| CeilingError::Recipient)?;
    let build = |body: String| {
        Message::builder()
            .from(from.clone())
            .to(to.clone())
            .subject("Herold SMTP ceiling")
            .body(body)
            .map_err(|_| CeilingError::Recipient)
    };
    let mut message = build(PADDING_FIRST_LINE.to_owned())?;
    let missing = message_bytes.saturating_sub(message.formatted().len());
    if missing > 0 {
        message = build(padded_body(missing))?;
    }
    let envelope = message.envelope().clone();
    let bytes = Arc::new(message.formatted());

    let pool_size = u32::try_from(concurrency)
        .unwrap_or(u32::MAX)
        .max(config.pool_max_size);
    let pool = Arc::new(SmtpPool::new(config, pool_size)?);
    let next = Arc::new(AtomicUsize::new(0));

    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.min(n_mails) {
        let (pool, envelope, bytes, next) = (
            Arc::clone(&pool),
            envelope.clone(),
            Arc::clone(&bytes),
            Arc::clone(&next),
        );
        workers.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n_mails {
                pool.send(&envelope, &bytes).await?;
            }
            Ok::<(), SendError>(())
        });
    }
    let mut failure = None;
    while let Some(joined) = workers.join_next().await {
        let result =
            joined.unwrap_or_else(|_| Err(SendError::transient("ceiling worker panicked")));
        if let Err(e) = result {
            failure.get_or_insert(e);
            workers.abort_all();
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    pool.shutdown().await;
    match failure {
        Some(e) => Err(CeilingError::Send(e)),
        None => Ok(n_mails as f64 / elapsed.max(f64::MIN_POSITIVE)),
    }
}

const PADDING_FIRST_LINE: &str = "ceiling\r\n";

/// The ceiling mail's body, `extra` bytes (rounded up to whole 78-byte
/// lines) longer than the first line alone: 7-bit text, as lettre sends it.
fn padded_body(extra: usize) -> String {
    const LINE: &str =
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n";
    let mut body = String::with_capacity(PADDING_FIRST_LINE.len() + extra + LINE.len());
    body.push_str(PADDING_FIRST_LINE);
    for _ in 0..extra.div_ceil(LINE.len()) {
        body.push_str(LINE);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_reaches_the_size_in_whole_lines() {
        assert_eq!(padded_body(0), PADDING_FIRST_LINE);
        let body = padded_body(100);
        assert_eq!(body.len(), PADDING_FIRST_LINE.len() + 2 * 78);
        assert!(body.lines().all(|l| l.len() <= 78));
    }
}
