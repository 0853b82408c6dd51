//! The throughput ceiling of an SMTP server, for benchmarks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use herold_channel_api::SendError;
use lettre::address::Envelope;
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

/// Sends `n_mails` copies of `message` (a complete mail as it goes over the
/// wire, e.g. one the adapter built, so that the server gets the same
/// content; `None`: a tiny fixed mail) to `to` through the adapter's
/// connection pool with `concurrency` parallel senders, without templating
/// or DKIM, and returns mails per second.
///
/// This is the server's ceiling for comparison with the adapter's throughput
/// against the same server. `config` provides server, security, credentials
/// and the envelope sender; the pool opens up to `concurrency` connections
/// (or `pool_max_size`, if larger).
pub async fn smtp_ceiling(
    config: &EmailConfig,
    to: &str,
    message: Option<&[u8]>,
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
    let envelope = Envelope::new(Some(from.email.clone()), vec![to.email.clone()])
        .map_err(|_| CeilingError::Recipient)?;
    let bytes = Arc::new(match message {
        Some(raw) => raw.to_vec(),
        None => Message::builder()
            .from(from)
            .to(to)
            .subject("Herold SMTP ceiling")
            .body("ceiling\r\n".to_owned())
            .map_err(|_| CeilingError::Recipient)?
            .formatted(),
    });

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
