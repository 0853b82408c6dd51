//! A bounded pool of SMTP connections with `TCP_NODELAY`.
//!
//! lettre's own pool has two costs at volume: its sockets keep Nagle's
//! algorithm on, and lettre writes a message and its terminating
//! `<CRLF>.<CRLF>` in two writes, so every mail waits for the server's
//! delayed ACK (40 ms on Linux) — at most 25 mails/s per connection; and it
//! bounds only *idle* connections, so more sends in flight than
//! `pool_max_size` open fresh connections that are closed right after.
//! This pool opens at most `max` connections (further sends wait for one),
//! sets `TCP_NODELAY` on plain and STARTTLS connections, and reuses
//! connections with lettre's SMTP client. Implicit TLS (port 465) connects
//! through lettre, which offers no way to set `TCP_NODELAY` there.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use herold_channel_api::SendError;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::channel::EmailError;
use crate::config::{EmailConfig, Security};
use crate::map::{map_failure, map_smtp_error, SmtpFailure};

/// A connection idle longer than this is checked with `NOOP` before reuse.
const CHECK_AFTER: Duration = Duration::from_secs(5);
/// A connection idle longer than this is closed instead of reused.
const MAX_IDLE: Duration = Duration::from_secs(60);

/// At most `max` SMTP connections to one server, reused between sends.
pub(crate) struct SmtpPool {
    host: String,
    port: u16,
    security: Security,
    tls: Option<TlsParameters>,
    hello: ClientId,
    credentials: Option<Credentials>,
    timeout: Duration,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    permits: Semaphore,
}

impl SmtpPool {
    /// A pool for `config` (expected to be validated) with at most `max`
    /// connections. Does not connect yet.
    pub(crate) fn new(config: &EmailConfig, max: u32) -> Result<Self, EmailError> {
        let tls = match config.security {
            Security::Plain => None,
            Security::Tls | Security::Starttls => Some(
                TlsParameters::new(config.host.clone())
                    .map_err(|e| EmailError::Tls(e.to_string()))?,
            ),
        };
        Ok(Self {
            host: config.host.clone(),
            port: config.effective_port(),
            security: config.security,
            tls,
            hello: config
                .hello_name
                .clone()
                .map_or_else(ClientId::default, ClientId::Domain),
            credentials: match (&config.username, &config.password) {
                (Some(u), Some(p)) => Some(Credentials::new(u.clone(), p.clone())),
                _ => None,
            },
            timeout: Duration::from_secs(config.timeout_seconds),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(max.max(1) as usize),
        })
    }

    /// Sends `raw` to the envelope's recipients over a pooled connection,
    /// within the configured timeout.
    pub(crate) async fn send(&self, envelope: &Envelope, raw: &[u8]) -> Result<(), SendError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| map_failure(SmtpFailure::Shutdown))?;
        let mut conn = self.checkout().await?;
        match tokio::time::timeout(self.timeout, conn.send(envelope, raw)).await {
            Ok(Ok(_)) => {
                self.park(conn);
                Ok(())
            }
            Ok(Err(e)) => {
                // lettre closes the connection on every error it reports.
                if !conn.has_broken() {
                    self.park(conn);
                }
                Err(map_smtp_error(&e))
            }
            Err(_) => Err(map_failure(SmtpFailure::Timeout)),
        }
    }

    /// Takes or opens a connection and checks it with `NOOP`.
    pub(crate) async fn test_connection(&self) -> Result<(), SendError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| map_failure(SmtpFailure::Shutdown))?;
        let mut conn = self.checkout().await?;
        match tokio::time::timeout(self.timeout, conn.test_connected()).await {
            Ok(true) => {
                self.park(conn);
                Ok(())
            }
            Ok(false) => Err(map_failure(SmtpFailure::Network)),
            Err(_) => Err(map_failure(SmtpFailure::Timeout)),
        }
    }

    /// Closes the idle connections (with `QUIT`); later sends fail.
    pub(crate) async fn shutdown(&self) {
        self.permits.close();
        let idle = std::mem::take(&mut *self.lock_idle());
        for (mut conn, _) in idle {
            conn.abort().await;
        }
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<(AsyncSmtpConnection, Instant)>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn park(&self, conn: AsyncSmtpConnection) {
        self.lock_idle().push((conn, Instant::now()));
    }

    /// The most recently used idle connection that still answers, or a new one.
    async fn checkout(&self) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let parked = self.lock_idle().pop();
            let Some((mut conn, since)) = parked else {
                return self.connect().await;
            };
            let idle = since.elapsed();
            let alive = idle <= MAX_IDLE
                && (idle <= CHECK_AFTER
                    || tokio::time::timeout(self.timeout, conn.test_connected())
                        .await
                        .unwrap_or(false));
            if alive {
                return Ok(conn);
            }
            conn.abort().await;
        }
    }

    /// Connects, greets, secures and authenticates, within the timeout.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let connect = async {
            let mut conn = match (self.security, &self.tls) {
                (Security::Tls, Some(tls)) => AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(self.timeout),
                    &self.hello,
                    Some(tls.clone()),
                    None,
                )
                .await
                .map_err(|e| map_smtp_error(&e))?,
                _ => {
                    let tcp = TcpStream::connect((self.host.as_str(), self.port))
                        .await
                        .map_err(|_| map_failure(SmtpFailure::Connection))?;
                    // Without it, each mail waits for a delayed ACK (see above).
                    tcp.set_nodelay(true)
                        .map_err(|_| map_failure(SmtpFailure::Connection))?;
                    let mut conn =
                        AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                            .await
                            .map_err(|e| map_smtp_error(&e))?;
                    if let (Security::Starttls, Some(tls)) = (self.security, &self.tls) {
                        conn.starttls(tls.clone(), &self.hello)
                            .await
                            .map_err(|e| map_smtp_error(&e))?;
                    }
                    conn
                }
            };
            if let Some(credentials) = &self.credentials {
                conn.auth(DEFAULT_MECHANISMS, credentials)
                    .await
                    .map_err(|e| map_smtp_error(&e))?;
            }
            Ok(conn)
        };
        tokio::time::timeout(self.timeout, connect)
            .await
            .unwrap_or_else(|_| Err(map_failure(SmtpFailure::Timeout)))
    }
}
