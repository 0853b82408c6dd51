//! `herold bench --smtp` against the real SMTP sink of
//! `scripts/bench-smtp-sink.py` (aiosmtpd).

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{herold, server::free_port, smtp::Sink};
use std::time::Duration;

#[test]
fn every_mail_reaches_the_server_and_the_ceiling_is_measured() {
    let port = free_port();
    let sink = Sink::start(port);
    let dir = tempfile::tempdir().unwrap();
    let out = herold(dir.path())
        .args([
            "bench",
            "--subscribers",
            "200",
            "--smtp-connections",
            "4",
            "--json",
        ])
        .args(["--smtp", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["deliveries"], 400, "{report}");
    assert_eq!(report["channels"], 1);
    assert_eq!(report["provider"], format!("smtp://127.0.0.1:{port}"));
    assert!(report["deliveries_per_s"].as_f64().unwrap() > 0.0);
    let email = &report["email"];
    assert_eq!(email["connections"], 4);
    assert_eq!(email["ceiling_mails"], 400);
    assert!(
        email["ceiling_mails_per_s"].as_f64().unwrap() > 0.0,
        "{email}"
    );
    assert!(email["ratio_pct"].as_f64().unwrap() > 0.0, "{email}");
    // A real announcement: headers, text and HTML parts, links.
    assert!(email["message_bytes"].as_u64().unwrap() > 1000, "{email}");

    // The server really got them: Herold's to the subscribers, the
    // ceiling client's to its own domain, over at most 4 + 4 connections
    // (and the harness's probe whether the sink listens).
    let stats = sink.wait_for(800, Duration::from_secs(5));
    assert_eq!(stats["mails_by_domain"]["example.org"], 400, "{stats}");
    assert_eq!(
        stats["mails_by_domain"]["ceiling.example.org"], 400,
        "{stats}"
    );
    assert!(stats["connections"].as_u64().unwrap() <= 9, "{stats}");
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let out = herold(dir.path())
        .args(["bench", "--subscribers", "200", "--json"])
        .args(["--smtp", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot reach the SMTP server at 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(stderr.contains("bench-smtp-sink.py"), "{stderr}");
}
