//! The email channel against a real SMTP server: aiosmtpd (PyPI).
//!
//! Python is taken from `HEROLD_TEST_PYTHON`, else `python3`; it must have
//! `aiosmtpd` (and `dkimpy` for the DKIM test) installed. Missing modules make
//! the tests fail, never skip.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use herold_channel_api::{
    Address, Channel, Destination, OutboundMessage, RenderedMessage, SendError, UnsubscribeLinks,
};
use herold_channel_email::{
    build_announcement, smtp_ceiling, EmailChannel, EmailConfig, Security, TransactionalMail,
    IDEMPOTENCY_HEADER,
};
use mail_parser::{MessageParser, MimeHeaders};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::EncodePublicKey as _;

const FROM: &str = "Gemeinde Müllheim-Süd <info@muellheim-sued.de>";

fn python() -> String {
    std::env::var("HEROLD_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn support_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support")
}

/// Fails the test with installation instructions unless `module` imports.
fn require_module(module: &str, pip: &str) {
    let py = python();
    let ok = Command::new(&py)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "Python module `{module}` is not importable with `{py}`. Install it \
         (`{py} -m pip install {pip}`) or point HEROLD_TEST_PYTHON at a Python that has it."
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An aiosmtpd child process writing accepted mail to a Maildir; killed on drop.
struct SmtpServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts aiosmtpd with handler `class` (`aiosmtpd.handlers.Mailbox` or
    /// `herold_smtp_sink.RejectingMailbox`) and waits until it accepts connections.
    fn start(class: &str) -> Self {
        require_module("aiosmtpd", "aiosmtpd==1.4.6");
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let port = free_port();
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", class])
            .arg(&maildir)
            .env("PYTHONPATH", support_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python()));
        let mut server = SmtpServer { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("aiosmtpd exited with {status}: {}", server.log());
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on port {port}: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn config(&self) -> EmailConfig {
        let mut c = EmailConfig::new("127.0.0.1", self.port, Security::Plain, FROM);
        c.timeout_seconds = 10;
        c
    }

    /// Waits until exactly `n` mails are in `new/` and returns their bytes.
    fn mails(&self, n: usize) -> Vec<Vec<u8>> {
        let new = self.dir.path().join("maildir/new");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let files: Vec<PathBuf> = std::fs::read_dir(&new)
                .map(|rd| rd.map(|e| e.unwrap().path()).collect())
                .unwrap_or_default();
            if files.len() >= n || Instant::now() > deadline {
                assert_eq!(files.len(), n, "mails in {}", new.display());
                return files.iter().map(|p| std::fs::read(p).unwrap()).collect();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn announcement(to: &str, subject: &str, urgent: bool) -> OutboundMessage {
    let mut m = RenderedMessage::new(
        format!("{subject}\n\nDie Hauptstraße ist ab Montag gesperrt. Grüße aus dem Rathaus."),
        "de",
    );
    m.subject = Some(subject.to_owned());
    m.html = Some(format!(
        "<h1>{subject}</h1><p>Die <b>Hauptstraße</b> ist ab Montag gesperrt.</p>"
    ));
    m.urgent = urgent;
    OutboundMessage {
        idempotency_key: format!("announcement-7/email/{to}"),
        destination: Destination::Recipient(Address::new(to)),
        message: m,
        unsubscribe: Some(UnsubscribeLinks {
            one_click: format!("https://herold.muellheim-sued.de/u/tok-{}", to.len()),
            manage: "https://herold.muellheim-sued.de/m/tok".into(),
        }),
        recipient_last_wrote: None,
    }
}

/// Index parsed mails by the envelope recipient aiosmtpd records in `X-RcptTo`.
fn by_recipient(raw: &[Vec<u8>]) -> HashMap<String, mail_parser::Message<'_>> {
    raw.iter()
        .map(|bytes| {
            let m = MessageParser::default().parse(bytes).unwrap();
            let rcpt = m.header_raw("X-RcptTo").unwrap().trim().to_owned();
            (rcpt, m)
        })
        .collect()
}

#[tokio::test]
async fn announcements_and_transactional_mail_arrive() {
    let server = SmtpServer::start("aiosmtpd.handlers.Mailbox");
    let channel = EmailChannel::new(server.config()).unwrap();

    let mut ids = HashMap::new();
    for (to, subject, urgent) in [
        ("anna@example.org", "Straßensperrung Hauptstraße", false),
        (
            "ben@example.org",
            "Öffnungszeiten im Bürgerbüro ändern sich",
            false,
        ),
        (
            "cem@example.org",
            "Unwetterwarnung: Sturmböen über 100 km/h",
            true,
        ),
    ] {
        let receipt = channel
            .send(&announcement(to, subject, urgent))
            .await
            .unwrap();
        ids.insert(to, receipt.provider_message_id.unwrap());
    }
    let confirm = TransactionalMail {
        to: Address::new("doris@example.org"),
        subject: "Bitte bestätigen Sie Ihre Anmeldung".into(),
        text: "Bitte bestätigen Sie Ihre Anmeldung: https://herold.muellheim-sued.de/c/xyz".into(),
        html: Some(
            "<p>Bitte <a href=\"https://herold.muellheim-sued.de/c/xyz\">bestätigen</a> Sie.</p>"
                .into(),
        ),
        locale: "de".into(),
    };
    let receipt = channel.send_transactional(&confirm).await.unwrap();
    ids.insert("doris@example.org", receipt.provider_message_id.unwrap());
    channel.shutdown().await;

    let raw = server.mails(4);
    let mails = by_recipient(&raw);
    assert_eq!(mails.len(), 4, "one mail per recipient");

    for (to, subject) in [
        ("anna@example.org", "Straßensperrung Hauptstraße"),
        (
            "ben@example.org",
            "Öffnungszeiten im Bürgerbüro ändern sich",
        ),
        (
            "cem@example.org",
            "Unwetterwarnung: Sturmböen über 100 km/h",
        ),
    ] {
        let m = &mails[to];
        assert_eq!(m.subject(), Some(subject));
        let from = m.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some("Gemeinde Müllheim-Süd"));
        assert_eq!(from.address(), Some("info@muellheim-sued.de"));
        assert_eq!(m.to().unwrap().first().unwrap().address(), Some(to));
        assert_eq!(format!("<{}>", m.message_id().unwrap()), ids[to]);
        assert!(m.date().is_some());
        assert_eq!(
            m.header_raw("X-MailFrom").map(str::trim),
            Some("info@muellheim-sued.de")
        );
        assert_eq!(
            m.header_raw("List-Unsubscribe").map(str::trim),
            Some(format!("<https://herold.muellheim-sued.de/u/tok-{}>", to.len()).as_str())
        );
        assert_eq!(
            m.header_raw("List-Unsubscribe-Post").map(str::trim),
            Some("List-Unsubscribe=One-Click")
        );
        assert_eq!(
            m.header_raw(IDEMPOTENCY_HEADER).map(str::trim),
            Some(format!("announcement-7/email/{to}").as_str())
        );
        let ct = m.root_part().content_type().unwrap();
        assert_eq!(
            (ct.ctype(), ct.subtype()),
            ("multipart", Some("alternative"))
        );
        let text = m.text_part(0).unwrap().content_type().unwrap();
        assert_eq!(text.attribute("charset"), Some("utf-8"));
        assert!(m.body_text(0).unwrap().contains("Grüße aus dem Rathaus"));
        let html = m.html_part(0).unwrap().content_type().unwrap();
        assert_eq!((html.ctype(), html.subtype()), ("text", Some("html")));
        assert!(m.body_html(0).unwrap().contains("<b>Hauptstraße</b>"));
    }
    assert_eq!(
        mails["cem@example.org"]
            .header_raw("Importance")
            .map(str::trim),
        Some("high")
    );
    assert!(mails["anna@example.org"].header_raw("Importance").is_none());

    let t = &mails["doris@example.org"];
    assert_eq!(t.subject(), Some("Bitte bestätigen Sie Ihre Anmeldung"));
    assert!(t.header_raw("List-Unsubscribe").is_none());
    assert!(t.header_raw("List-Unsubscribe-Post").is_none());
    assert!(t.body_text(0).unwrap().contains("bestätigen"));
    assert!(t.body_html(0).unwrap().contains("bestätigen"));
}

#[tokio::test]
async fn smtp_rejections_map_end_to_end() {
    let server = SmtpServer::start("herold_smtp_sink.RejectingMailbox");
    let channel = EmailChannel::new(server.config()).unwrap();

    let err = channel
        .send(&announcement("gone.max@example.org", "Test", false))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            SendError::Permanent {
                recipient_gone: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("550 5.1.1"), "{err}");
    assert!(
        !err.to_string().contains("gone.max"),
        "reason leaks address: {err}"
    );

    let err = channel
        .send(&announcement("busy.max@example.org", "Test", false))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Transient { .. }), "{err:?}");
    assert!(err.to_string().contains("451"), "{err}");

    let err = channel
        .send(&announcement("spam.max@example.org", "Test", false))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Refused { .. }), "{err:?}");
    assert!(!err.is_bounce());

    // The pool recovers from the aborted sessions.
    channel
        .send(&announcement("ok@example.org", "Nach den Fehlern", false))
        .await
        .unwrap();
    let raw = server.mails(1);
    let mails = by_recipient(&raw);
    assert_eq!(mails["ok@example.org"].subject(), Some("Nach den Fehlern"));
}

#[tokio::test]
async fn server_down_is_transient() {
    let port = free_port(); // nothing listens there any more
    let mut config = EmailConfig::new("127.0.0.1", port, Security::Plain, FROM);
    config.timeout_seconds = 5;
    let channel = EmailChannel::new(config).unwrap();
    let started = Instant::now();
    let err = channel
        .send(&announcement("anna@example.org", "Test", false))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Transient { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn dkim_signature_verifies_independently() {
    require_module("dkim", "dkimpy==1.1.8");
    let server = SmtpServer::start("aiosmtpd.handlers.Mailbox");
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap();
    let key_file = server.dir.path().join("dkim.pem");
    std::fs::write(
        &key_file,
        key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap(),
    )
    .unwrap();
    let public = key.to_public_key().to_public_key_der().unwrap();
    let record = format!(
        "v=DKIM1; k=rsa; p={}",
        base64::engine::general_purpose::STANDARD.encode(public.as_bytes())
    );

    let mut config = server.config();
    config.reply_to = Some("Bürgerbüro <buergerbuero@muellheim-sued.de>".into());
    config.dkim_selector = Some("herold".into());
    config.dkim_domain = Some("muellheim-sued.de".into());
    config.dkim_private_key_file = Some(key_file);

    let verify = |bytes: &[u8], what: &str| {
        let file = server.dir.path().join(format!("{what}.eml"));
        std::fs::write(&file, bytes).unwrap();
        let out = Command::new(python())
            .arg(support_dir().join("verify_dkim.py"))
            .arg(&file)
            .arg(&record)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "DKIM signature of the {what} mail does not verify:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };

    // The bytes lettre puts on the wire …
    let msg = announcement("anna@example.org", "Straßensperrung Hauptstraße", true);
    let built = build_announcement(&config.sender().unwrap(), &msg).unwrap();
    verify(&built.message.formatted(), "built");

    // … and the copy that went through a real SMTP session.
    let channel = EmailChannel::new(config).unwrap();
    channel.send(&msg).await.unwrap();
    let raw = server.mails(1);
    verify(&raw[0], "received");
}

#[tokio::test]
async fn ceiling_sends_everything_and_reports_a_rate() {
    let server = SmtpServer::start("aiosmtpd.handlers.Mailbox");
    let rate = smtp_ceiling(&server.config(), "bench@example.org", None, 12, 3)
        .await
        .unwrap();
    assert!(rate.is_finite() && rate > 0.0, "{rate}");
    assert_eq!(server.mails(12).len(), 12);
}

#[tokio::test]
async fn ceiling_sends_a_given_mail_as_is() {
    let server = SmtpServer::start("aiosmtpd.handlers.Mailbox");
    let config = server.config();
    let msg = announcement("anna@example.org", "Straßensperrung Hauptstraße", true);
    let built = build_announcement(&config.sender().unwrap(), &msg).unwrap();
    let raw = built.message.formatted();
    smtp_ceiling(&config, "bench@example.org", Some(&raw), 5, 2)
        .await
        .unwrap();
    let mails = server.mails(5);
    // The same mail each time (the Mailbox handler adds envelope headers
    // and stores LF line ends).
    let id = format!("Message-ID: {}", built.message_id);
    assert!(mails
        .iter()
        .all(|m| String::from_utf8_lossy(m).contains(&id)));
    assert!(mails
        .iter()
        .all(|m| m.len() > raw.len() * 9 / 10 && m.len() < raw.len() * 11 / 10));
}
