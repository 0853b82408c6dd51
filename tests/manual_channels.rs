//! Manual channels through the command line, on SQLite and PostgreSQL:
//! the WhatsApp Channel has no sending API, so each announcement of its
//! categories is due there, shows as "not yet posted" with the copy ready
//! to paste, and once staff confirm it, with the time and who posted it.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use assert_cmd::assert::OutputAssertExt;
use common::herold;
use std::path::Path;

const MANUAL: &str = r#"[{id = "whatsapp-channel", name = "WhatsApp-Kanal der Gemeinde", format = "whatsapp", categories = ["abfall"]}, {id = "aushang", name = "Schaukasten am Rathaus"}]"#;

fn run(dir: &Path, database_url: Option<&str>, args: &[&str]) -> (bool, String, String) {
    let mut c = herold(dir);
    c.env("HEROLD_MANUAL", MANUAL).args(args);
    if let Some(url) = database_url {
        c.env("HEROLD_DATABASE_URL", url)
            .env("HEROLD_SECRET_KEY_FILE", dir.join("pg.key"));
    }
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn ok(dir: &Path, database_url: Option<&str>, args: &[&str]) -> String {
    let (success, out, err) = run(dir, database_url, args);
    assert!(success, "{args:?}: {err}");
    out
}

fn manual_posts(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    herold::storage::write_key_file(
        &d.join("pg.key"),
        &herold::crypto::Keyring::generate_encoded(),
    )
    .unwrap();
    ok(
        d,
        database_url,
        &["category", "add", "abfall", "--name", "Abfall"],
    );
    ok(
        d,
        database_url,
        &["category", "add", "kultur", "--name", "Kultur"],
    );
    ok(
        d,
        database_url,
        &[
            "publish",
            "--category",
            "abfall",
            "--title",
            "Biotonne *heute*",
            "--body",
            "Abholung am **Samstag**.",
        ],
    );
    ok(
        d,
        database_url,
        &[
            "publish",
            "--category",
            "kultur",
            "--title",
            "Stadtfest",
            "--body",
            "Am Markt.",
        ],
    );
    // A scheduled one is not due yet.
    ok(
        d,
        database_url,
        &[
            "publish",
            "--category",
            "abfall",
            "--title",
            "Sperrmüll",
            "--body",
            "Später.",
            "--at",
            "2099-01-01T08:00:00+01:00",
        ],
    );

    // Waste collection is due on both, the festival on the notice board only.
    let pending = ok(d, database_url, &["manual", "list"]);
    let lines: Vec<&str> = pending.lines().collect();
    assert_eq!(lines.len(), 3, "{pending}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("1\twhatsapp-channel\tnot yet posted")),
        "{pending}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("1\taushang\tnot yet posted")),
        "{pending}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("2\taushang\tnot yet posted")),
        "{pending}"
    );
    let shown = ok(d, database_url, &["announcements", "show", "1"]);
    assert!(
        shown.contains("manual:     whatsapp-channel not yet posted"),
        "{shown}"
    );

    // The copy for the WhatsApp Channel: WhatsApp markup, the link, the
    // user's asterisks made inert; the notice board's in plain text.
    let copy = ok(
        d,
        database_url,
        &["manual", "show", "1", "--channel", "whatsapp-channel"],
    );
    assert!(copy.starts_with("*Biotonne ∗heute∗*"), "{copy}");
    assert!(copy.contains("*Samstag*"), "{copy}");
    assert!(copy.contains("/announcements/1"), "{copy}");
    let plain = ok(
        d,
        database_url,
        &["manual", "show", "1", "--channel", "aushang"],
    );
    assert!(
        !plain.contains("*Samstag*") && plain.contains("Samstag"),
        "{plain}"
    );

    // Confirmed by Petra: the record shows when and by whom; confirming
    // again keeps the first record.
    let posted = ok(
        d,
        database_url,
        &[
            "manual",
            "posted",
            "1",
            "--channel",
            "whatsapp-channel",
            "--by",
            "Petra Schmidt",
        ],
    );
    assert!(posted.contains("by Petra Schmidt"), "{posted}");
    ok(
        d,
        database_url,
        &[
            "manual",
            "posted",
            "1",
            "--channel",
            "whatsapp-channel",
            "--by",
            "Jemand",
        ],
    );
    let shown = ok(d, database_url, &["announcements", "show", "1"]);
    let line = shown
        .lines()
        .find(|l| l.contains("whatsapp-channel"))
        .unwrap();
    assert!(
        line.contains("posted 20") && line.ends_with("by Petra Schmidt"),
        "{line}"
    );
    assert!(
        shown.contains("manual:     aushang not yet posted"),
        "{shown}"
    );
    let pending = ok(
        d,
        database_url,
        &["manual", "list", "--channel", "whatsapp-channel"],
    );
    assert_eq!(pending.trim(), "nothing to post");
    let all = ok(d, database_url, &["manual", "list", "--all"]);
    assert!(all.contains("by Petra Schmidt"), "{all}");

    // Bad input: a clear sentence, nothing recorded.
    let (success, _, err) = run(
        d,
        database_url,
        &["manual", "posted", "2", "--channel", "whatsapp-channel"],
    );
    assert!(!success);
    assert!(
        err.contains("announcement 2 due on manual channel whatsapp-channel"),
        "{err}"
    );
    let (success, _, err) = run(
        d,
        database_url,
        &["manual", "list", "--channel", "facebook"],
    );
    assert!(!success);
    assert!(
        err.contains(
            "unknown manual channel \"facebook\": expected one of whatsapp-channel, aushang"
        ),
        "{err}"
    );
    let pending = ok(d, database_url, &["manual", "list"]);
    assert_eq!(pending.lines().count(), 2, "{pending}");
}

#[test]
fn manual_posts_on_sqlite() {
    manual_posts(None);
}

#[test]
fn manual_posts_on_postgres() {
    let pg = common::PgDatabase::create();
    manual_posts(Some(&pg.url));
}

#[test]
fn bad_manual_channels_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = herold(dir.path())
        .env("HEROLD_MANUAL", r#"[{id = "WhatsApp Kanal", name = "x"}]"#)
        .args(["config", "check"])
        .assert()
        .failure()
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("manual[0].id"), "{err}");
}
