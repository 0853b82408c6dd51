//! The command line as a user meets it: the real binary, a real database.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use assert_cmd::assert::OutputAssertExt;
use common::herold;
use predicates::prelude::*;
use std::{path::Path, process::Command};

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.assert().success().get_output().stdout.clone();
    String::from_utf8(out).unwrap()
}

/// Everything a database holds that a failed command must not change.
fn snapshot(dir: &Path) -> String {
    let list = stdout(herold(dir).args(["announcements", "list"]));
    let cats = stdout(herold(dir).args(["category", "list"]));
    format!("{list}\n{cats}")
}

fn with_category(dir: &Path) {
    herold(dir)
        .args(["category", "add", "abfall", "--name", "Abfall & Wertstoffe"])
        .assert()
        .success()
        .stdout(predicate::str::contains("added category abfall"));
}

/// Asserts a failure with exactly one line on stderr that contains `needle`.
fn fails_with(cmd: &mut Command, needles: &[&str]) {
    let out = cmd.assert().failure().get_output().clone();
    let err = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<_> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one sentence, got:\n{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err:?}");
    }
}

#[test]
fn help_lists_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let help = stdout(herold(dir.path()).arg("--help"));
    for c in [
        "serve",
        "migrate",
        "category",
        "publish",
        "announcements",
        "subscribers",
        "config",
    ] {
        assert!(help.contains(c), "{c} missing from --help:\n{help}");
    }
    let help = stdout(herold(dir.path()).args(["publish", "--help"]));
    for f in [
        "--category",
        "--title",
        "--body",
        "--body-file",
        "--urgent",
        "--at",
    ] {
        assert!(help.contains(f), "{f} missing:\n{help}");
    }
}

#[test]
fn categories_publish_and_inspect_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    with_category(d);
    herold(d)
        .args(["category", "add", "bau", "--name", "Baustellen"])
        .assert()
        .success();
    let cats = stdout(herold(d).args(["category", "list"]));
    assert!(
        cats.contains("abfall") && cats.contains("Baustellen"),
        "{cats}"
    );
    std::fs::write(
        d.join("body.md"),
        "Die **Biotonne** wird am Samstag geleert.",
    )
    .unwrap();
    let out = stdout(herold(d).args([
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne",
        "--body-file",
        "body.md",
        "--urgent",
    ]));
    assert!(out.contains("announcement 1 published"), "{out}");
    let out = stdout(herold(d).args([
        "publish",
        "--category",
        "bau",
        "--title",
        "Später",
        "--body",
        "B",
        "--at",
        "2099-01-01T08:00:00+01:00",
    ]));
    assert!(out.contains("scheduled for 2099-01-01T07:00:00"), "{out}");
    let list = stdout(herold(d).args(["announcements", "list"]));
    assert!(
        list.contains("scheduled") && list.contains("[urgent] Biotonne"),
        "{list}"
    );
    let show = stdout(herold(d).args(["announcements", "show", "1"]));
    assert!(
        show.contains("Die **Biotonne** wird") && show.contains("urgent:     yes"),
        "{show}"
    );
    herold(d)
        .args(["announcements", "cancel", "2"])
        .assert()
        .success();
    assert!(stdout(herold(d).args(["announcements", "show", "2"])).contains("cancelled"));
    fails_with(
        herold(d).args(["announcements", "cancel", "1"]),
        &["already published"],
    );
    fails_with(
        herold(d).args(["announcements", "show", "99"]),
        &["announcement 99 not found"],
    );
    // Categories with announcements stay; unused ones can go.
    herold(d)
        .args(["category", "add", "leer", "--name", "Leer"])
        .assert()
        .success();
    herold(d)
        .args(["category", "remove", "leer"])
        .assert()
        .success();
    fails_with(
        herold(d).args(["category", "remove", "abfall"]),
        &["abfall", "cannot be removed"],
    );
    fails_with(
        herold(d).args(["category", "add", "abfall", "--name", "X"]),
        &["category \"abfall\" already exists"],
    );
    fails_with(
        herold(d).args(["category", "add", "Ab Fall", "--name", "X"]),
        &["category slug", "Ab Fall", "expected"],
    );
    assert!(stdout(herold(d).args(["subscribers", "list"])).contains("no subscribers"));
    assert!(stdout(herold(d).arg("migrate")).contains("up to date (sqlite backend)"));
}

#[test]
fn bad_publish_input_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    with_category(d);
    herold(d)
        .args([
            "publish",
            "--category",
            "abfall",
            "--title",
            "Gut",
            "--body",
            "ok",
        ])
        .assert()
        .success();
    let before = snapshot(d);
    let long = "x".repeat(4001);
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--category", "nope", "--title", "T", "--body", "B"],
            vec!["unknown category \"nope\"", "abfall"],
        ),
        (
            vec!["--category", "abfall", "--title", "  ", "--body", "B"],
            vec!["title must not be empty"],
        ),
        (
            vec!["--category", "abfall", "--title", "T", "--body", &long],
            vec!["body is 4001 characters long", "at most 4000"],
        ),
        (
            vec![
                "--category",
                "abfall",
                "--title",
                "T",
                "--body",
                "B",
                "--at",
                "2020-05-01T10:00:00Z",
            ],
            vec!["2020-05-01T10:00:00", "in the future"],
        ),
        (
            vec![
                "--category",
                "abfall",
                "--title",
                "T",
                "--body",
                "B",
                "--at",
                "morgen früh",
            ],
            vec!["\"morgen früh\"", "RFC 3339"],
        ),
        (
            vec![
                "--category",
                "abfall",
                "--title",
                "T",
                "--body-file",
                "missing.md",
            ],
            vec!["--body-file missing.md"],
        ),
    ];
    for (args, needles) in cases {
        let mut cmd = herold(d);
        cmd.arg("publish").args(&args);
        fails_with(&mut cmd, &needles);
        assert_eq!(snapshot(d), before, "database changed after {args:?}");
    }
}

#[test]
fn bad_database_urls_are_refused_without_creating_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases = [
        (
            "mysql://root@localhost/herold",
            vec!["database_url", "mysql://", "not supported"],
        ),
        ("postgres://", vec!["database_url", "postgres://"]),
        (
            "postgres://postgres@127.0.0.1:1/herold",
            vec!["cannot connect to the database", "127.0.0.1:1"],
        ),
        (
            "sqlite:///no/such/dir/herold.db",
            vec!["database_url", "/no/such/dir does not exist"],
        ),
    ];
    for (url, needles) in cases {
        fails_with(
            herold(d)
                .env("HEROLD_DATABASE_URL", url)
                .args(["category", "list"]),
            &needles,
        );
        assert_eq!(
            std::fs::read_dir(d).unwrap().count(),
            0,
            "a file was created for {url}"
        );
    }
    // Passwords never appear in messages.
    let out = herold(d)
        .env("HEROLD_DATABASE_URL", "postgres://u:hunter2@127.0.0.1:1/x")
        .args(["category", "list"])
        .assert()
        .failure()
        .get_output()
        .clone();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("hunter2"));
}

#[test]
fn missing_or_wrong_encryption_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails_with(
        herold(d)
            .env("HEROLD_SECRET_KEY_FILE", "/nonexistent/herold.key")
            .args(["category", "list"]),
        &["/nonexistent/herold.key", "expected"],
    );
    assert_eq!(
        std::fs::read_dir(d).unwrap().count(),
        0,
        "nothing may be created"
    );
    fails_with(
        herold(d)
            .env("HEROLD_SECRET_KEY", "tooshort")
            .args(["category", "list"]),
        &["secret_key", "32 random bytes"],
    );
    // A new database gets a key; without it, the database is refused.
    with_category(d);
    assert!(d.join("herold.key").exists());
    std::fs::rename(d.join("herold.key"), d.join("moved.key")).unwrap();
    let before = std::fs::read(d.join("herold.db")).unwrap();
    fails_with(
        herold(d).args([
            "publish",
            "--category",
            "abfall",
            "--title",
            "T",
            "--body",
            "B",
        ]),
        &["missing encryption key", "herold.key"],
    );
    assert_eq!(std::fs::read(d.join("herold.db")).unwrap(), before);
    // The key given by file works.
    herold(d)
        .env("HEROLD_SECRET_KEY_FILE", d.join("moved.key"))
        .args(["category", "list"])
        .assert()
        .success();
}

#[test]
fn config_check_redacts_secrets_and_names_bad_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8M=";
    let out = stdout(
        herold(d)
            .env("HEROLD_SECRET_KEY", key)
            .env(
                "HEROLD_DATABASE_URL",
                "postgres://app:pw123@db.example/herold",
            )
            .args(["config", "check"]),
    );
    assert!(!out.contains(key) && !out.contains("pw123"), "{out}");
    assert!(
        out.contains("<redacted>") && out.contains("listen = \"127.0.0.1:8080\""),
        "{out}"
    );
    fails_with(
        herold(d)
            .env("HEROLD_LISTEN", "everywhere")
            .args(["config", "check"]),
        &["listen", "HEROLD_LISTEN", "socket address"],
    );
    // The SMTP password never shows; a broken [email] section names its key.
    let out = stdout(
        herold(d)
            .env("HEROLD_EMAIL__HOST", "mail.example.org")
            .env("HEROLD_EMAIL__SECURITY", "starttls")
            .env("HEROLD_EMAIL__FROM", "Gemeinde <info@example.org>")
            .env("HEROLD_EMAIL__USERNAME", "herold")
            .env("HEROLD_EMAIL__PASSWORD", "smtp-geheim")
            .args(["config", "check"]),
    );
    assert!(
        !out.contains("smtp-geheim") && out.contains("[email]"),
        "{out}"
    );
    fails_with(
        herold(d)
            .env("HEROLD_EMAIL__HOST", "mail.example.org")
            .env("HEROLD_EMAIL__SECURITY", "starttls")
            .env("HEROLD_EMAIL__FROM", "not a mailbox")
            .args(["config", "check"]),
        &["email.from"],
    );
    fails_with(
        herold(d)
            .env("HEROLD_DELIVERY__CHANNELS", r#"["email"]"#)
            .args(["config", "check"]),
        &["email", "[email] section"],
    );
    fails_with(
        herold(d)
            .env("HEROLD_POOL_SIZE", "0")
            .args(["config", "check"]),
        &["pool_size", "1 to 256"],
    );
    fails_with(
        herold(d)
            .env("HEROLD_DEFAULT_LOCALE", "fr")
            .args(["config", "check"]),
        &["default_locale", "de or en"],
    );
    fails_with(
        herold(d)
            .env("HEROLD_LIMITS__BODY_MAX_CHARS", "many")
            .args(["config", "check"]),
        &["limits.body_max_chars"],
    );
    // No configuration key can make Herold pretend to deliver: the fake
    // providers' old key is unknown, in every build.
    fails_with(
        herold(d)
            .env("HEROLD_DELIVERY__TEST_PROVIDER", "memory")
            .args(["config", "check"]),
        &["test_provider"],
    );
    // Every channel of delivery.channels needs its own section; the check
    // builds the adapters, so a missing one shows here, not at `serve`.
    fails_with(
        herold(d)
            .env("HEROLD_DELIVERY__CHANNELS", r#"["email"]"#)
            .args(["config", "check"]),
        &["delivery.channels lists email", "[email]"],
    );
    fails_with(
        herold(d)
            .env("HEROLD_DELIVERY__CHANNELS", r#"["telegram"]"#)
            .args(["config", "check"]),
        &["delivery.channels lists telegram", "[telegram]"],
    );
    fails_with(
        herold(d)
            .env("HEROLD_DELIVERY__CHANNELS", r#"["matrix"]"#)
            .args(["config", "check"]),
        &["delivery.channels lists matrix", "[matrix]"],
    );
    fails_with(
        herold(d)
            .env("HEROLD_DELIVERY__CHANNELS", r#"["whatsapp"]"#)
            .args(["config", "check"]),
        &["delivery.channels lists whatsapp", "[whatsapp]"],
    );
    // The bot token and the webhook secret never show; a bad key is named.
    let out = stdout(
        herold(d)
            .env("HEROLD_DELIVERY__CHANNELS", r#"["telegram"]"#)
            .env("HEROLD_TELEGRAM__TOKEN", "123456789:AAbot-geheim")
            .env("HEROLD_TELEGRAM__WEBHOOK_SECRET", "hook_geheim")
            .env("HEROLD_TELEGRAM__CHANNEL", "@musterstadt_info")
            .args(["config", "check"]),
    );
    assert!(
        !out.contains("AAbot-geheim") && !out.contains("hook_geheim") && out.contains("[telegram]"),
        "{out}"
    );
    fails_with(
        herold(d)
            .env("HEROLD_TELEGRAM__TOKEN", "123456789:AAbot-geheim")
            .env("HEROLD_TELEGRAM__WEBHOOK_SECRET", "has spaces")
            .args(["config", "check"]),
        &["telegram.webhook_secret"],
    );
    fails_with(
        herold(d)
            .env("HEROLD_TELEGRAM__TOKEN", "not-a-token")
            .args(["config", "check"]),
        &["telegram.token"],
    );
    // The file is read, and its mistakes are named too.
    std::fs::write(
        d.join("herold.toml"),
        "site_name = \"Gemeinde Musterstadt\"\nlisten = 8080\n",
    )
    .unwrap();
    fails_with(
        herold(d).args(["config", "check"]),
        &["listen", "herold.toml"],
    );
    std::fs::write(
        d.join("herold.toml"),
        "site_name = \"Gemeinde Musterstadt\"\nlsiten = \"x\"\n",
    )
    .unwrap();
    fails_with(herold(d).args(["config", "check"]), &["lsiten"]);
    std::fs::write(
        d.join("herold.toml"),
        "site_name = \"Gemeinde Musterstadt\"\n",
    )
    .unwrap();
    assert!(stdout(herold(d).args(["config", "check"])).contains("Gemeinde Musterstadt"));
    fails_with(
        herold(d).args(["--config", "nope.toml", "config", "check"]),
        &["nope.toml does not exist"],
    );
}

#[test]
fn cli_works_on_postgres() {
    // The database does not exist yet: Herold creates it on the server.
    let pg = common::PgDatabase::unique_name();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str]| {
        let mut c = herold(d);
        c.env("HEROLD_DATABASE_URL", &pg.url)
            .env("HEROLD_SECRET_KEY_FILE", d.join("pg.key"))
            .args(args);
        c
    };
    herold::storage::write_key_file(
        &d.join("pg.key"),
        &herold::crypto::Keyring::generate_encoded(),
    )
    .unwrap();
    run(&["category", "add", "abfall", "--name", "Abfall"])
        .assert()
        .success();
    run(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Auf Postgres",
        "--body",
        "B",
    ])
    .assert()
    .success();
    let list = stdout(&mut run(&["announcements", "list"]));
    assert!(list.contains("Auf Postgres"), "{list}");
    fails_with(
        &mut run(&[
            "publish",
            "--category",
            "nope",
            "--title",
            "T",
            "--body",
            "B",
        ]),
        &["unknown category \"nope\""],
    );
    assert!(stdout(&mut run(&["migrate"])).contains("postgres backend"));
}

#[test]
fn subscribers_are_listed_by_pseudonym_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    with_category(d);
    let config = herold::config::Config {
        database_url: d.join("herold.db").display().to_string(),
        ..Default::default()
    };
    let app = herold::service::Herold::open(config).unwrap();
    let cat = app.db().find_category("abfall").unwrap().unwrap();
    let s = app
        .db()
        .insert_subscriber(&herold::storage::NewSubscriber {
            channel: herold_channel_api::ChannelKind::WhatsApp,
            address: "+49 151 99887766".into(),
            locale: "de".into(),
            status: herold::domain::SubscriberStatus::Active,
            category_ids: vec![cat.id],
            wording_version: "v1".into(),
            evidence: None,
        })
        .unwrap();
    drop(app);
    let out = stdout(herold(d).args(["subscribers", "list"]));
    assert!(
        out.contains(s.pseudonym.as_str()) && out.contains("whatsapp") && out.contains("active"),
        "{out}"
    );
    assert!(!out.contains("99887766"), "{out}");
    assert!(
        stdout(herold(d).args(["subscribers", "list", "--channel", "email"]))
            .contains("no subscribers")
    );
    fails_with(
        herold(d).args(["subscribers", "list", "--channel", "fax"]),
        &["unknown channel \"fax\""],
    );
}
