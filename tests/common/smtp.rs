//! aiosmtpd (PyPI) as a real SMTP server for end-to-end tests.

use std::{
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use super::server::python;

/// aiosmtpd on a loopback port, writing every mail into a Maildir.
pub struct Smtp {
    child: Child,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Smtp {
    /// A server that accepts every mail.
    pub fn start(port: u16) -> Self {
        Self::start_with(port, "aiosmtpd.handlers.Mailbox")
    }

    /// A server that refuses by the recipient's local part (`gone…` 550
    /// 5.1.1, `full…` 552 5.2.2, `spam…` 550 5.7.1, `moody…` 552 5.2.2 for
    /// subjects starting with `Voll`): `herold_smtp_sink.RejectingMailbox`
    /// of the e-mail channel's tests.
    pub fn start_rejecting(port: u16) -> Self {
        Self::start_with(port, "herold_smtp_sink.RejectingMailbox")
    }

    fn start_with(port: u16, handler: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let support =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("channels/email/tests/support");
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", handler])
            .arg(&maildir)
            .env("PYTHONPATH", support)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python with aiosmtpd (run ./scripts/test.sh)");
        wait_for_port(port, "aiosmtpd");
        Self {
            child,
            maildir,
            _dir: dir,
        }
    }

    pub fn mails(&self) -> Vec<Vec<u8>> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        entries
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect()
    }

    /// The files of the mails stored so far (each written whole before
    /// the server answered the mail's DATA).
    pub fn mail_paths(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        entries.map(|e| e.unwrap().path()).collect()
    }

    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        super::poll_until(timeout, || {
            let mails = self.mails();
            if mails.len() >= n {
                Ok(mails)
            } else {
                Err(format!("{} of {n} mails arrived", mails.len()))
            }
        })
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `scripts/bench-smtp-sink.py`: aiosmtpd discarding every mail, counting
/// connections and mails per recipient domain.
pub struct Sink {
    child: Child,
    stats: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sink {
    pub fn start(port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stats = dir.path().join("stats.json");
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench-smtp-sink.py");
        let child = Command::new(python())
            .arg(script)
            .args(["--port", &port.to_string(), "--stats"])
            .arg(&stats)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python with aiosmtpd (run ./scripts/test.sh)");
        wait_for_port(port, "the SMTP sink");
        Self {
            child,
            stats,
            _dir: dir,
        }
    }

    /// The sink's counts so far (written at most five times a second).
    pub fn stats(&self) -> serde_json::Value {
        std::fs::read(&self.stats)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(serde_json::Value::Null)
    }

    /// Waits until `n` mails arrived in all; returns the counts.
    pub fn wait_for(&self, n: u64, timeout: Duration) -> serde_json::Value {
        super::poll_until(timeout, || {
            let stats = self.stats();
            if stats["mails"].as_u64().unwrap_or(0) >= n {
                Ok(stats)
            } else {
                Err(format!("{n} mails expected, sink saw {stats}"))
            }
        })
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until something listens on loopback `port` (20 s at most).
fn wait_for_port(port: u16, what: &str) {
    super::wait_until(what, Duration::from_secs(20), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}
