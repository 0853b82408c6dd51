//! Operations: `herold backup` while `herold serve` runs and a restore from
//! it, `herold migrate-to` from SQLite to PostgreSQL, and the example
//! systemd unit in `deploy/`.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{herold, publish_request, server::Server, PgDatabase};
use diesel::{sql_types::Binary, Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use herold_channel_api::ChannelKind;
use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(!out.status.success(), "{cmd:?} should have failed");
    String::from_utf8(out.stderr).unwrap()
}

fn addresses(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("bewohner-{i}@musterstadt.example"))
        .collect()
}

/// `PRAGMA integrity_check` on `file`, independently of Herold's code.
fn integrity(file: &Path) -> String {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let mut c = SqliteConnection::establish(&file.display().to_string()).unwrap();
    let rows: Vec<Row> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut c)
        .unwrap();
    rows.into_iter()
        .map(|r| r.integrity_check)
        .collect::<Vec<_>>()
        .join(";")
}

fn count(file: &Path, table: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut c = SqliteConnection::establish(&file.display().to_string()).unwrap();
    diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
        .get_result::<N>(&mut c)
        .unwrap()
        .n
}

#[test]
fn help_lists_the_operations_commands() {
    let dir = tempfile::tempdir().unwrap();
    let help = ok(herold(dir.path()).arg("--help"));
    for c in ["backup", "migrate-to"] {
        assert!(help.contains(c), "{c} missing from --help:\n{help}");
    }
}

#[test]
fn backup_while_serving_then_restore() {
    let server = Server::start(None);
    let db_file = server.dir.path().join("herold.db");
    let residents = addresses(25);
    let app = server.email_subscribers(None, "abfall", &residents);
    server.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne: Leerung verschoben",
        "--body",
        "Die Biotonne wird am **Samstag** geleert.",
    ]);

    // A second process keeps writing through its own connections while
    // the backup runs (and `herold serve` runs too).
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (stop, written) = (stop.clone(), written.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                app.publish(&publish_request(
                    "abfall",
                    &format!("Laufende Meldung {i}"),
                    "Text",
                ))
                .unwrap();
                written.fetch_add(1, Ordering::SeqCst);
                i += 1;
            }
            app
        })
    };
    common::wait_until("the writer to start", Duration::from_secs(10), || {
        written.load(Ordering::SeqCst) >= 3
    });

    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("herold-backup.db");
    let out = ok(Server::command(server.dir.path(), &server.env)
        .args(["backup"])
        .arg(&backup));
    let written_after_backup = written.load(Ordering::SeqCst);
    // The writer goes on; the backup must be consistent anyway.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let app = writer.join().unwrap();
    assert!(out.contains("integrity check ok"), "{out}");
    let key = server.dir.path().join("herold.key");
    let key_abs = std::fs::canonicalize(&key).unwrap();
    assert!(
        out.contains(&format!("the key file {}", key_abs.display())),
        "the output must say where the key is: {out}"
    );
    assert_eq!(integrity(&backup), "ok");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the backup holds personal data");
    }
    // A snapshot: everything written before the command started is in it,
    // and nothing that came after the command returned.
    let in_backup = count(&backup, "announcements");
    // The first announcement and at least three of the writer's.
    assert!(in_backup > 3, "{in_backup}");
    assert!(
        in_backup <= 1 + written_after_backup as i64,
        "{in_backup} > {written_after_backup}"
    );
    assert!(count(&db_file, "announcements") > in_backup);

    // An existing file is not overwritten without --force.
    let err = fails(
        Server::command(server.dir.path(), &server.env)
            .args(["backup"])
            .arg(&backup),
    );
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(count(&backup, "announcements"), in_backup);
    ok(Server::command(server.dir.path(), &server.env)
        .args(["backup", "--force"])
        .arg(&backup));
    assert_eq!(integrity(&backup), "ok");
    assert!(count(&backup, "announcements") > in_backup);
    let in_backup = count(&backup, "announcements");
    drop(app);

    // Restore on a "new machine": the backup as the database, the key file
    // next to it, a new `herold serve`.
    let restored = tempfile::tempdir().unwrap();
    let restored_db = restored.path().join("herold.db");
    let restored_key = restored.path().join("herold.key");
    std::fs::copy(&backup, &restored_db).unwrap();
    std::fs::copy(&key, &restored_key).unwrap();
    drop(server);

    // Without the key the restored database refuses to open.
    let err = fails(
        herold(restored.path())
            .env("HEROLD_DATABASE_URL", &restored_db)
            .env(
                "HEROLD_SECRET_KEY_FILE",
                restored.path().join("missing.key"),
            )
            .args(["announcements", "list"]),
    );
    assert!(err.contains("missing.key"), "{err}");

    let restored_db_s = restored_db.display().to_string();
    let restored_key_s = restored_key.display().to_string();
    let again = Server::start_with(
        Some(&restored_db_s),
        &[("HEROLD_SECRET_KEY_FILE", &restored_key_s)],
    );
    let subscribers = again.cli(&["subscribers", "list", "--channel", "email"]);
    assert_eq!(
        subscribers.lines().filter(|l| l.contains("active")).count(),
        25,
        "{subscribers}"
    );
    let list = again.cli(&["announcements", "list", "--limit", "100000"]);
    assert_eq!(list.lines().count() as i64, in_backup, "{list}");
    assert!(list.contains("Biotonne: Leerung verschoben"), "{list}");
    let page = reqwest::blocking::get(again.url("/announcements/1"))
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("Biotonne: Leerung verschoben"), "{page}");
    // A decrypted address: the key restored with the database works.
    let export = again.cli(&[
        "subscribers",
        "export",
        "--channel",
        "email",
        "--address",
        &residents[7],
    ]);
    let export: serde_json::Value = serde_json::from_str(&export).unwrap();
    assert!(
        export.to_string().contains(&residents[7]),
        "the export must hold the decrypted address: {export}"
    );
}

#[test]
fn backup_on_postgres_points_to_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("b.db");
    let err = fails(
        herold(dir.path())
            .env(
                "HEROLD_DATABASE_URL",
                "postgres://herold:geheim@127.0.0.1:5432/herold",
            )
            .args(["backup"])
            .arg(&target),
    );
    assert!(err.contains("pg_dump -Fc"), "{err}");
    assert!(err.contains("docs/operations.md"), "{err}");
    assert!(err.contains("herold.key"), "{err}");
    assert!(!err.contains("geheim"), "{err}");
    assert!(!target.exists());
    // No database, nothing to back up: said, and no empty database made.
    let err = fails(herold(dir.path()).args(["backup"]).arg(&target));
    assert!(err.contains("no SQLite database"), "{err}");
    assert!(!dir.path().join("herold.db").exists());
}

/// The table names of `src/storage/schema.rs`.
fn schema_tables() -> BTreeSet<String> {
    let schema = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/storage/schema.rs"),
    )
    .unwrap();
    let lines: Vec<&str> = schema.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0].trim() == "diesel::table! {")
        .filter_map(|w| w[1].split_whitespace().next().map(str::to_owned))
        .collect()
}

fn image_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/media/gps.jpg")
}

/// Waits until `herold_deliveries_total{channel="email",outcome="sent"}`
/// of `server` is `n`.
fn wait_sent(server: &Server, n: usize) {
    let sent = format!(r#"herold_deliveries_total{{channel="email",outcome="sent"}} {n}"#);
    common::poll_until(Duration::from_secs(30), || {
        let text = reqwest::blocking::get(server.url("/metrics"))
            .and_then(|r| r.text())
            .unwrap_or_default();
        if text.contains(&sent) {
            Ok(())
        } else {
            Err(format!("never saw {sent} in\n{text}"))
        }
    });
}

/// The engine in `herold serve`, sending e-mail to an in-memory provider.
const ENGINE: [(&str, &str); 3] = [
    ("HEROLD_DELIVERY__CHANNELS", r#"["email"]"#),
    ("HEROLD_FAKE_PROVIDER", "memory"),
    ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
];

#[test]
fn migrate_to_postgres_keeps_everything() {
    // SQLite filled through the real paths: the CLI, and `herold serve`
    // delivering two announcements to 20 residents.
    let sqlite = Server::start_with(None, &ENGINE);
    let d = sqlite.dir.path();
    let residents = addresses(20);
    drop(sqlite.email_subscribers(None, "abfall", &residents));
    sqlite.cli(&["category", "add", "verkehr", "--name", "Verkehr"]);
    sqlite.cli(&[
        "publish",
        "--category",
        "verkehr",
        "--urgent",
        "--title",
        "Hauptstraße gesperrt",
        "--body",
        "Umleitung über die Bahnhofstraße.",
    ]);
    sqlite.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Biotonne mit Bild",
        "--body",
        "Samstag.",
        "--image-alt",
        "Eine Biotonne",
        "--image",
        image_fixture().to_str().unwrap(),
    ]);
    // A correction refers to an older row of its own table.
    sqlite.cli(&[
        "publish",
        "--category",
        "abfall",
        "--corrects",
        "2",
        "--title",
        "Biotonne: Sonntag",
        "--body",
        "Sonntag.",
    ]);
    std::fs::write(d.join("pw"), "ein-langes-passwort-2026\n").unwrap();
    sqlite.cli(&[
        "user",
        "add",
        "ada",
        "--role",
        "admin",
        "--password-file",
        d.join("pw").to_str().unwrap(),
    ]);
    wait_sent(&sqlite, 40);
    let listings = |s: &Server| {
        [
            &["announcements", "list"][..],
            &["category", "list"],
            &["subscribers", "list"],
            &["user", "list"],
            &["broadcasts", "show", "2"],
            &["broadcasts", "show", "3"],
        ]
        .map(|args| s.cli(args))
    };
    let before = listings(&sqlite);
    assert!(before[4].contains("sent      20"), "{}", before[4]);
    let image: Vec<u8> = {
        #[derive(QueryableByName)]
        struct Bytes {
            #[diesel(sql_type = Binary)]
            bytes: Vec<u8>,
        }
        let mut c =
            SqliteConnection::establish(&d.join("herold.db").display().to_string()).unwrap();
        diesel::sql_query("SELECT bytes FROM media WHERE id = 1")
            .get_result::<Bytes>(&mut c)
            .unwrap()
            .bytes
    };

    // Into a database that does not exist yet: created, migrated, filled
    // (from one snapshot, so even with `serve` still running).
    let pg = PgDatabase::unique_name();
    let migrate = |extra: &[(&str, &str)]| {
        let mut cmd = Server::command(d, &sqlite.env);
        cmd.envs(extra.iter().copied())
            .args(["migrate-to", &pg.url]);
        cmd
    };
    // One transaction: a row PostgreSQL refuses (a subscription of a
    // subscriber who does not exist, which SQLite without its foreign-key
    // checks takes) fails the copy and leaves every table empty.
    let sqlite_file = d.join("herold.db").display().to_string();
    let raw_sqlite = |sql: &str| {
        let mut c = SqliteConnection::establish(&sqlite_file).unwrap();
        // `serve` still runs and writes now and then: wait for its lock.
        diesel::connection::SimpleConnection::batch_execute(
            &mut c,
            "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = OFF;",
        )
        .unwrap();
        diesel::sql_query(sql).execute(&mut c).unwrap();
    };
    raw_sqlite(
        "INSERT INTO subscriptions (subscriber_id, category_id, created_at) \
         VALUES (999, 1, '2026-12-05 00:00:00')",
    );
    let err = fails(&mut migrate(&[]));
    assert!(err.contains("subscriptions"), "{err}");
    {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut c = diesel::PgConnection::establish(&pg.url).unwrap();
        // public_version: the target's own counter row (see below).
        for table in schema_tables()
            .into_iter()
            .filter(|t| t != "public_version")
        {
            let n = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
                .get_result::<N>(&mut c)
                .unwrap()
                .n;
            assert_eq!(n, 0, "{table} kept rows of a failed copy");
        }
    }
    raw_sqlite("DELETE FROM subscriptions WHERE subscriber_id = 999");

    let out = ok(&mut migrate(&[]));
    // public_version is each database's own change counter, written by
    // the migrations (src/storage/migrate_to.rs, SEEDED).
    for table in schema_tables()
        .into_iter()
        .filter(|t| t != "public_version")
    {
        assert!(
            out.lines()
                .any(|l| l.split_whitespace().next() == Some(table.as_str())),
            "table {table} of schema.rs not copied:\n{out}"
        );
    }
    for (table, rows) in [("subscribers", 20), ("deliveries", 40), ("media", 1)] {
        assert!(
            out.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>()
                    == [table, &rows.to_string(), "rows"]),
            "{table}: expected {rows} rows copied:\n{out}"
        );
    }
    assert!(out.contains("secret_key_file"), "{out}");

    // A second run is refused: the target is no longer empty.
    let err = fails(&mut migrate(&[]));
    assert!(err.contains("not empty"), "{err}");
    // Only from SQLite.
    let err = fails(&mut migrate(&[("HEROLD_DATABASE_URL", &pg.url)]));
    assert!(err.contains("copies an SQLite database"), "{err}");

    // Herold on PostgreSQL with the same key sees the same data.
    let key = d.join("herold.key").display().to_string();
    let mut env = ENGINE.to_vec();
    env.push(("HEROLD_SECRET_KEY_FILE", &key));
    let server = Server::start_with(Some(&pg.url), &env);
    assert_eq!(before, listings(&server));
    let shown = server.cli(&["announcements", "show", "3"]);
    assert!(shown.contains("corrects:   2"), "{shown}");
    let media = reqwest::blocking::get(server.url("/media/1.jpg"))
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(media.as_ref(), image.as_slice());
    let export = server.cli(&[
        "subscribers",
        "export",
        "--channel",
        "email",
        "--address",
        &residents[3],
    ]);
    assert!(export.contains(&residents[3]), "{export}");

    // New rows get fresh ids after the copied ones: an announcement, its
    // broadcast and 20 deliveries, a category, a subscriber.
    let published = server.cli(&[
        "publish",
        "--category",
        "abfall",
        "--title",
        "Neu auf PostgreSQL",
        "--body",
        "x",
    ]);
    assert!(
        published.starts_with("announcement 4 published"),
        "{published}"
    );
    wait_sent(&server, 20);
    let shown = server.cli(&["broadcasts", "show", "4"]);
    assert!(shown.contains("sent      20"), "{shown}");
    server.cli(&["category", "add", "kultur", "--name", "Kultur"]);
    let app = herold::service::Herold::open(herold::config::Config {
        database_url: pg.url.clone(),
        secret_key_file: Some(d.join("herold.key")),
        pool_size: 2,
        ..Default::default()
    })
    .unwrap();
    let kultur = app.db().find_category("kultur").unwrap().unwrap();
    assert_eq!(kultur.id, 3);
    app.db()
        .import_subscribers(
            ChannelKind::Email,
            &["neu@musterstadt.example".to_owned()],
            kultur.id,
            herold::service::CONSENT_WORDING_VERSION,
            "test",
        )
        .unwrap();
    let neu = app
        .db()
        .find_subscriber_by_address(ChannelKind::Email, "neu@musterstadt.example")
        .unwrap()
        .unwrap();
    assert_eq!(neu.id, 21);
    drop(app);
    drop(server);
}

/// One directive of the example unit: its key, value and whether the line
/// is commented out (a channel not everyone uses).
struct Directive {
    key: String,
    value: String,
    commented: bool,
}

fn unit_directives() -> Vec<Directive> {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/herold.service"),
    )
    .unwrap();
    unit.lines()
        .filter_map(|l| {
            let (commented, l) = match l.strip_prefix('#') {
                Some(rest) => (true, rest),
                None => (false, l),
            };
            let (key, value) = l.split_once('=')?;
            let key = key.trim();
            (!key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric())).then(|| Directive {
                key: key.to_owned(),
                value: value.trim().to_owned(),
                commented,
            })
        })
        .collect()
}

/// `HEROLD_…` for a dotted configuration key.
fn env_name(key: &str) -> String {
    format!("HEROLD_{}", key.replace('.', "__").to_uppercase())
}

#[test]
fn systemd_unit_loads_every_secret_as_a_credential() {
    let directives = unit_directives();
    let get = |k: &'static str| directives.iter().filter(move |d| d.key == k);
    let credentials: Vec<(&str, bool)> = get("LoadCredential")
        .map(|d| (d.value.split(':').next().unwrap(), d.commented))
        .collect();
    let environment: Vec<(&str, &str, bool)> = get("Environment")
        .map(|d| {
            let (k, v) = d.value.split_once('=').unwrap();
            (k, v, d.commented)
        })
        .collect();
    assert!(!credentials.is_empty() && !environment.is_empty());
    // Each credential is read: named after a secret key, or a file key
    // points at it (both lines commented out or neither).
    for (name, commented) in &credentials {
        let by_name = herold::config::CREDENTIAL_KEYS.contains(name);
        let by_path = environment
            .iter()
            .any(|(_, v, c)| *v == format!("%d/{name}") && c == commented);
        assert!(
            by_name || by_path,
            "LoadCredential={name} is neither a secret key nor referenced as %d/{name}"
        );
    }
    // Each %d/NAME has its LoadCredential.
    for (k, v, commented) in &environment {
        if let Some(name) = v.strip_prefix("%d/") {
            assert!(
                credentials.contains(&(name, *commented)),
                "{k}={v} without LoadCredential={name}:…"
            );
        }
    }
    // Every secret Herold reads from a file has its credential …
    for key in herold::config::SECRET_FILE_KEYS {
        let var = env_name(key);
        assert!(
            environment
                .iter()
                .any(|(k, v, _)| *k == var && v.starts_with("%d/")),
            "no Environment={var}=%d/… for {key}"
        );
    }
    // … and every inline secret without a `_file` key is a credential.
    for key in herold::config::CREDENTIAL_KEYS {
        let file_key = format!("{key}_file");
        if !herold::config::SECRET_FILE_KEYS.contains(&file_key.as_str()) {
            assert!(
                credentials.iter().any(|(n, _)| n == key),
                "no LoadCredential={key}:… for the secret {key}"
            );
        }
    }
    for hardening in [
        "DynamicUser",
        "StateDirectory",
        "ProtectSystem",
        "NoNewPrivileges",
        "PrivateTmp",
        "ProtectHome",
    ] {
        assert!(get(hardening).any(|d| !d.commented), "{hardening}= missing");
    }
    assert!(get("ProtectSystem").any(|d| d.value == "strict"));
}

/// Herold started the way the unit starts it — the active credentials in a
/// credentials directory, the Environment= lines with `%d` expanded — reads
/// every secret.
#[test]
fn systemd_unit_environment_configures_herold() {
    let state = tempfile::tempdir().unwrap();
    let creds = tempfile::tempdir().unwrap();
    let c = creds.path();
    std::fs::write(
        c.join("herold.key"),
        herold::crypto::Keyring::generate_encoded().as_str(),
    )
    .unwrap();
    std::fs::write(c.join("metrics_token"), "scrape-token-2026\n").unwrap();
    std::fs::write(c.join("email.password"), "smtp-geheim-2026\n").unwrap();
    let config = state.path().join("herold.toml");
    std::fs::write(
        &config,
        "[email]\nhost = \"mail.example.org\"\nsecurity = \"starttls\"\n\
         from = \"Gemeinde <info@example.org>\"\nusername = \"herold\"\n",
    )
    .unwrap();
    let mut cmd = herold(state.path());
    cmd.env("CREDENTIALS_DIRECTORY", c);
    for d in unit_directives()
        .iter()
        .filter(|d| d.key == "Environment" && !d.commented)
    {
        let (k, v) = d.value.split_once('=').unwrap();
        cmd.env(k, v.replace("%d", &c.display().to_string()));
    }
    for (name, _) in unit_directives()
        .iter()
        .filter(|d| d.key == "LoadCredential" && !d.commented)
        .map(|d| d.value.split_once(':').unwrap())
    {
        assert!(c.join(name).exists(), "test lacks credential {name}");
    }
    // The paths of the unit, moved into the test's directories.
    cmd.env("HEROLD_CONFIG", &config).env(
        "HEROLD_DATABASE_URL",
        state.path().join("herold.db").display().to_string(),
    );
    let out = ok(cmd.args(["config", "check"]));
    assert!(
        out.contains(&format!(
            "secret_key_file = \"{}\"",
            c.join("herold.key").display()
        )),
        "{out}"
    );
    assert!(out.contains("metrics_token = \"<redacted>\""), "{out}");
    assert!(
        !out.contains("scrape-token") && !out.contains("smtp-geheim"),
        "{out}"
    );
    // Without the credential the password is missing, so it came from there.
    let mut without = herold(state.path());
    without
        .env("HEROLD_CONFIG", &config)
        .env("HEROLD_DATABASE_URL", state.path().join("herold.db"));
    let err = fails(without.args(["config", "check"]));
    assert!(err.contains("password"), "{err}");

    // The Telegram and WhatsApp lines uncommented: each `*_FILE` variable
    // reaches its key (the channels' checks read the files) and the
    // webhook secret comes from its credential.
    for (name, value) in [
        ("telegram-token", "123456789:AAtelegram-token-2026"),
        ("telegram.webhook_secret", "hook_secret-2026"),
        ("whatsapp-access-token", "EAAwhatsapptoken2026"),
        ("whatsapp-app-secret", "app-secret-2026"),
        ("whatsapp-verify-token", "verify-token-2026"),
    ] {
        std::fs::write(c.join(name), format!("{value}\n")).unwrap();
    }
    let channels = state.path().join("channels.toml");
    std::fs::write(
        &channels,
        format!(
            "{}[telegram]\n[whatsapp]\nphone_number_id = \"1234567890\"\n\
             [whatsapp.templates.broadcast]\nname = \"ankuendigung\"\n",
            std::fs::read_to_string(&config).unwrap()
        ),
    )
    .unwrap();
    let messenger = |d: &&Directive| {
        !d.commented || d.value.contains("telegram") || d.value.contains("whatsapp")
    };
    let mut cmd = herold(state.path());
    cmd.env("CREDENTIALS_DIRECTORY", c);
    for d in unit_directives().iter().filter(messenger) {
        match d.key.as_str() {
            "Environment" => {
                let (k, v) = d.value.split_once('=').unwrap();
                cmd.env(k, v.replace("%d", &c.display().to_string()));
            }
            "LoadCredential" => {
                let name = d.value.split(':').next().unwrap();
                assert!(c.join(name).exists(), "test lacks credential {name}");
            }
            _ => {}
        }
    }
    cmd.env("HEROLD_CONFIG", &channels).env(
        "HEROLD_DATABASE_URL",
        state.path().join("herold.db").display().to_string(),
    );
    let out = ok(cmd.args(["config", "check"]));
    for file in [
        "telegram-token",
        "whatsapp-access-token",
        "whatsapp-app-secret",
        "whatsapp-verify-token",
    ] {
        assert!(
            out.contains(&format!("\"{}\"", c.join(file).display())),
            "{file} not configured:\n{out}"
        );
    }
    assert!(!out.contains("2026\""), "a secret shown:\n{out}");
    // Without the webhook-secret credential Telegram has no webhook secret.
    std::fs::remove_file(c.join("telegram.webhook_secret")).unwrap();
    let without = ok(&mut cmd);
    assert_ne!(out, without);

    // systemd's own check, where systemd is installed.
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok()
    {
        let dir = tempfile::tempdir().unwrap();
        let unit = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/herold.service"),
        )
        .unwrap()
        .replace("/usr/local/bin/herold", env!("CARGO_BIN_EXE_herold"));
        let file = dir.path().join("herold.service");
        std::fs::write(&file, unit).unwrap();
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&file)
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success() && said.trim().is_empty(), "{said}");
    } else {
        eprintln!("systemd-analyze not installed: the unit was checked by parsing only");
    }
}
