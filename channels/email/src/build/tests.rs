use super::*;
use crate::config::{EmailConfig, Security};
use herold_channel_api::{FollowTarget, RenderedMessage};
use mail_parser::{MessageParser, MimeHeaders};

const FROM: &str = "Gemeinde Müllheim-Süd <info@muellheim-sued.de>";
const ONE_CLICK: &str = "https://herold.muellheim-sued.de/u/AbC123";

fn config() -> EmailConfig {
    let mut c = EmailConfig::new("smtp.muellheim-sued.de", 587, Security::Starttls, FROM);
    c.reply_to = Some("Bürgerbüro <buergerbuero@muellheim-sued.de>".into());
    c
}

fn sender() -> Sender {
    config().sender().unwrap()
}

fn announcement() -> OutboundMessage {
    let mut m = RenderedMessage::new(
        "Wegen Bauarbeiten ist die Hauptstraße ab Montag gesperrt.\nUmleitung über die Gartenstraße.",
        "de",
    );
    m.subject = Some("Straßensperrung: Öffnung erst übermorgen".into());
    m.html = Some("<p>Wegen Bauarbeiten ist die <b>Hauptstraße</b> ab Montag gesperrt.</p>".into());
    OutboundMessage {
        idempotency_key: "announcement-12/email/42".into(),
        destination: Destination::Recipient(Address::new("max.mustermann@example.org")),
        message: m,
        unsubscribe: Some(UnsubscribeLinks {
            one_click: ONE_CLICK.into(),
            manage: "https://herold.muellheim-sued.de/m/AbC123".into(),
        }),
        recipient_last_wrote: None,
    }
}

fn formatted(mail: &BuiltMail) -> String {
    String::from_utf8(mail.message.formatted()).unwrap()
}

/// Names of all top-level header fields, as they appear on the wire.
fn header_names(raw: &str) -> Vec<String> {
    let head = raw.split("\r\n\r\n").next().unwrap();
    head.split("\r\n")
        .filter(|l| !l.starts_with(' ') && !l.starts_with('\t'))
        .map(|l| l.split(':').next().unwrap().to_ascii_lowercase())
        .collect()
}

#[test]
fn headers_decode_with_umlauts() {
    let mail = build_announcement(&sender(), &announcement()).unwrap();
    let raw = formatted(&mail);
    assert!(raw.is_ascii(), "wire format must be 7-bit");
    let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();

    assert_eq!(
        parsed.subject(),
        Some("Straßensperrung: Öffnung erst übermorgen")
    );
    let from = parsed.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Gemeinde Müllheim-Süd"));
    assert_eq!(from.address(), Some("info@muellheim-sued.de"));
    let reply_to = parsed.reply_to().unwrap().first().unwrap();
    assert_eq!(reply_to.name(), Some("Bürgerbüro"));
    let to = parsed.to().unwrap().first().unwrap();
    assert_eq!(to.address(), Some("max.mustermann@example.org"));

    let id = parsed.message_id().unwrap();
    assert_eq!(format!("<{id}>"), mail.message_id);
    assert!(id.ends_with("@muellheim-sued.de"), "{id}");
    assert!(parsed.date().is_some());
    assert_eq!(
        parsed.header_raw("Content-Language").map(str::trim),
        Some("de")
    );
    assert_eq!(
        parsed.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    assert_eq!(
        parsed.header_raw(IDEMPOTENCY_HEADER).map(str::trim),
        Some("announcement-12/email/42")
    );
}

#[test]
fn both_parts_are_utf8_and_decode() {
    let mail = build_announcement(&sender(), &announcement()).unwrap();
    let raw = formatted(&mail);
    let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();

    let root = parsed.root_part().content_type().unwrap();
    assert_eq!(
        (root.ctype(), root.subtype()),
        ("multipart", Some("alternative"))
    );
    assert_eq!(parsed.text_body_count(), 1);
    assert_eq!(parsed.html_body_count(), 1);
    let text = parsed.text_part(0).unwrap();
    let ct = text.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("plain")));
    assert_eq!(
        ct.attribute("charset")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("utf-8")
    );
    let html = parsed.html_part(0).unwrap();
    let ct = html.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("html")));
    assert_eq!(
        ct.attribute("charset")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("utf-8")
    );

    let body = parsed.body_text(0).unwrap();
    assert!(body.contains("Hauptstraße ab Montag gesperrt."), "{body}");
    assert!(body.contains("Gartenstraße"), "{body}");
    let body = parsed.body_html(0).unwrap();
    assert!(body.contains("<b>Hauptstraße</b>"), "{body}");
}

#[test]
fn text_only_is_a_single_part() {
    let mut msg = announcement();
    msg.message.html = None;
    let raw = formatted(&build_announcement(&sender(), &msg).unwrap());
    let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
    let ct = parsed.root_part().content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("plain")));
    assert!(!raw.contains("text/html"));
    assert!(parsed.body_text(0).unwrap().contains("Hauptstraße"));
}

#[test]
fn list_unsubscribe_headers() {
    let raw = formatted(&build_announcement(&sender(), &announcement()).unwrap());
    assert!(
        raw.contains(&format!("\r\nList-Unsubscribe: <{ONE_CLICK}>\r\n")),
        "{raw}"
    );
    assert!(raw.contains("\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));

    // Plain http (local development): a link, but no one-click promise.
    let mut msg = announcement();
    msg.unsubscribe = Some(UnsubscribeLinks {
        one_click: "http://localhost:8080/u/AbC".into(),
        manage: "http://localhost:8080/m/AbC".into(),
    });
    let raw = formatted(&build_announcement(&sender(), &msg).unwrap());
    assert!(raw.contains("\r\nList-Unsubscribe: <http://localhost:8080/u/AbC>\r\n"));
    assert!(!header_names(&raw).contains(&"list-unsubscribe-post".to_owned()));

    // None: neither header.
    let mut msg = announcement();
    msg.unsubscribe = None;
    let names = header_names(&formatted(&build_announcement(&sender(), &msg).unwrap()));
    assert!(!names.iter().any(|n| n.starts_with("list-")), "{names:?}");
}

#[test]
fn broken_unsubscribe_links_are_misconfiguration() {
    for bad in [
        "",
        "ftp://x.de/u",
        "https://",
        "/u/relative",
        "https://x.de/u\r\nBcc: victim@example.org",
        "https://x.de/u> , <mailto:x@y.de",
        "https://x.de/ü",
    ] {
        let mut msg = announcement();
        msg.unsubscribe = Some(UnsubscribeLinks {
            one_click: bad.into(),
            manage: String::new(),
        });
        assert!(
            matches!(
                build_announcement(&sender(), &msg),
                Err(SendError::Misconfigured { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn header_injection_is_impossible() {
    let mut msg = announcement();
    msg.message.subject = Some("Hallo\r\nBcc: victim@example.org\r\n\r\nFake body".into());
    msg.idempotency_key = "k1\r\nBcc: victim2@example.org".into();
    let mail = build_announcement(&sender(), &msg).unwrap();
    let raw = formatted(&mail);

    let names = header_names(&raw);
    assert!(!names.contains(&"bcc".to_owned()), "{names:?}");
    assert_eq!(names.iter().filter(|n| *n == "subject").count(), 1);
    assert!(!raw.contains("\r\nBcc:"), "{raw}");
    let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
    assert!(parsed.bcc().is_none());
    assert_eq!(
        parsed.subject(),
        Some("Hallo Bcc: victim@example.org Fake body")
    );
    // Nobody but the recipient is in the envelope.
    let rcpts: Vec<String> = mail
        .message
        .envelope()
        .to()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(rcpts, ["max.mustermann@example.org"]);

    // Injection through the recipient address is refused outright.
    msg.destination =
        Destination::Recipient(Address::new("max@example.org\r\nBcc: victim@example.org"));
    assert_eq!(
        build_announcement(&sender(), &msg).unwrap_err(),
        SendError::Permanent {
            reason: "invalid recipient address".into(),
            recipient_gone: false
        }
    );
}

#[test]
fn clean_header_text_strips_controls() {
    assert_eq!(
        clean_header_text("  a\r\n\tb\u{0}c\u{7f}d\u{85}e\u{2028}f  "),
        "a b c d e f"
    );
    assert_eq!(clean_header_text("\r\n"), "");
    assert_eq!(clean_header_text("Grüße"), "Grüße");
}

#[test]
fn subject_falls_back_to_first_line_and_is_capped() {
    let mut msg = announcement();
    msg.message.subject = None;
    msg.message.text = "\n  \nErste Zeile mit Ä\nZweite Zeile".into();
    let raw = formatted(&build_announcement(&sender(), &msg).unwrap());
    let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
    assert_eq!(parsed.subject(), Some("Erste Zeile mit Ä"));

    msg.message.subject = Some(" \r\n ".into());
    let raw = formatted(&build_announcement(&sender(), &msg).unwrap());
    let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
    assert_eq!(parsed.subject(), Some("Erste Zeile mit Ä"));

    msg.message.subject = Some("ß".repeat(500));
    let raw = formatted(&build_announcement(&sender(), &msg).unwrap());
    let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
    let subject = parsed.subject().unwrap();
    assert_eq!(subject.chars().count(), MAX_SUBJECT_CHARS);
    assert!(subject.ends_with('…'));
}

#[test]
fn urgent_sets_priority_headers() {
    let names = header_names(&formatted(
        &build_announcement(&sender(), &announcement()).unwrap(),
    ));
    assert!(!names.contains(&"importance".to_owned()));
    assert!(!names.contains(&"x-priority".to_owned()));

    let mut msg = announcement();
    msg.message.urgent = true;
    let raw = formatted(&build_announcement(&sender(), &msg).unwrap());
    assert!(raw.contains("\r\nImportance: high\r\n"));
    assert!(raw.contains("\r\nX-Priority: 1\r\n"));
}

#[test]
fn message_ids_are_unique() {
    let a = build_announcement(&sender(), &announcement()).unwrap();
    let b = build_announcement(&sender(), &announcement()).unwrap();
    assert_ne!(a.message_id, b.message_id);
    assert!(a.message_id.starts_with('<') && a.message_id.ends_with("@muellheim-sued.de>"));
}

#[test]
fn invalid_recipients_and_follow_targets() {
    for bad in [
        "",
        "max",
        "max@",
        "@example.org",
        "max mustermann@example.org",
        "a@b@c",
    ] {
        let mut msg = announcement();
        msg.destination = Destination::Recipient(Address::new(bad));
        assert_eq!(
            build_announcement(&sender(), &msg).unwrap_err(),
            SendError::Permanent {
                reason: "invalid recipient address".into(),
                recipient_gone: false
            },
            "{bad:?}"
        );
    }
    let mut msg = announcement();
    msg.destination = Destination::Follow(FollowTarget::new("abfall"));
    assert!(matches!(
        build_announcement(&sender(), &msg),
        Err(SendError::Permanent {
            recipient_gone: false,
            ..
        })
    ));
}

#[test]
fn transactional_has_no_list_headers() {
    let mail = TransactionalMail {
        to: Address::new("erika@example.org"),
        subject: "Bitte bestätigen Sie Ihre Anmeldung".into(),
        text: "Klicken Sie auf den Link, um Ihre Anmeldung zu bestätigen.".into(),
        html: Some("<p>Bitte <a href=\"https://x.de/c\">bestätigen</a>.</p>".into()),
        locale: "de".into(),
    };
    let raw = formatted(&build_transactional(&sender(), &mail).unwrap());
    let names = header_names(&raw);
    assert!(!names.iter().any(|n| n.starts_with("list-")), "{names:?}");
    assert!(!names.contains(&IDEMPOTENCY_HEADER.to_ascii_lowercase()));
    let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
    assert_eq!(
        parsed.subject(),
        Some("Bitte bestätigen Sie Ihre Anmeldung")
    );
    assert_eq!(parsed.html_body_count(), 1);
    assert!(parsed.body_text(0).unwrap().contains("bestätigen"));
    assert!(!format!("{mail:?}").contains("erika"));
}

#[test]
fn dkim_signs_the_list_headers() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("dkim.pem");
    std::fs::write(&key, crate::dkim::tests::ed25519_pem()).unwrap();
    let mut c = config();
    c.dkim_selector = Some("herold2024".into());
    c.dkim_domain = Some("muellheim-sued.de".into());
    c.dkim_private_key_file = Some(key);
    let sender = c.sender().unwrap();
    assert!(sender.signs());

    let raw = formatted(&build_announcement(&sender, &announcement()).unwrap());
    let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
    let sig: String = parsed
        .header_raw("DKIM-Signature")
        .expect("DKIM-Signature header")
        .split_whitespace()
        .collect();
    let tag = |name: &str| {
        sig.split(';')
            .find_map(|t| t.trim().strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
            .unwrap_or_default()
    };
    assert_eq!(tag("a"), "ed25519-sha256");
    assert_eq!(tag("d"), "muellheim-sued.de");
    assert_eq!(tag("s"), "herold2024");
    assert_eq!(tag("c"), "relaxed/relaxed");
    let signed: Vec<String> = tag("h").split(':').map(str::to_ascii_lowercase).collect();
    for h in [
        "from",
        "subject",
        "date",
        "message-id",
        "to",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ] {
        assert!(signed.iter().any(|s| s == h), "{h} not in h={signed:?}");
    }
    assert!(!tag("b").is_empty() && !tag("bh").is_empty());

    // Without DKIM there is no signature.
    let raw = formatted(&build_announcement(&self::sender(), &announcement()).unwrap());
    assert!(!header_names(&raw).contains(&"dkim-signature".to_owned()));
}

#[test]
fn debug_output_hides_content() {
    let mail = build_announcement(&sender(), &announcement()).unwrap();
    let dbg = format!("{mail:?}");
    assert!(!dbg.contains("max.mustermann"), "{dbg}");
    assert!(!dbg.contains("Hauptstra"), "{dbg}");
    assert!(dbg.contains(&mail.message_id));
}
