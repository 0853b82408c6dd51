//! `herold serve` as a child process on a free port, for end-to-end tests.

use reqwest::blocking::Client;
use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

/// The Python with feedparser that `scripts/test.sh` prepares.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("HEROLD_TEST_PYTHON") {
        return p.into();
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-peers/venv/bin/python");
    assert!(
        p.exists(),
        "{} not found: run ./scripts/test.sh, which installs feedparser for the feed tests",
        p.display()
    );
    p
}

/// Decodes an image with Pillow (`tests/support/image_pixels.py`); its
/// JSON summary (format, size, pixels' hash, metadata found).
pub fn pillow(bytes: &[u8]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("image");
    std::fs::write(&file, bytes).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/image_pixels.py");
    let out = Command::new(python())
        .arg(script)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "Pillow cannot decode the image: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `herold serve`, stopped on drop.
pub struct Server {
    child: Child,
    base: String,
    pub env: Vec<(String, String)>,
    pub dir: tempfile::TempDir,
}

impl Server {
    pub fn start(database_url: Option<&str>) -> Self {
        Self::start_with(database_url, &[])
    }

    pub fn start_with(database_url: Option<&str>, extra_env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut env = vec![
            ("HEROLD_LISTEN".to_owned(), format!("127.0.0.1:{port}")),
            ("HEROLD_PUBLIC_URL".to_owned(), format!("{base}/")),
            (
                "HEROLD_SITE_NAME".to_owned(),
                "Gemeinde Musterstadt".to_owned(),
            ),
            // Public documents reflect the CLI's publications at once
            // (tests/public_documents.rs runs the default of 250 ms).
            ("HEROLD_PUBLIC_REFRESH_MS".to_owned(), "0".to_owned()),
            // Herold's own debug lines too: they must be as free of
            // personal data and secrets as the rest (checked on drop).
            (
                "HEROLD_LOG__FILTER".to_owned(),
                "info,herold=debug".to_owned(),
            ),
        ];
        if let Some(url) = database_url {
            let key = dir.path().join("pg.key");
            herold::storage::write_key_file(&key, &herold::crypto::Keyring::generate_encoded())
                .unwrap();
            env.push(("HEROLD_DATABASE_URL".into(), url.into()));
            env.push(("HEROLD_SECRET_KEY_FILE".into(), key.display().to_string()));
        }
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let child = Self::spawn_serve(dir.path(), &env);
        let server = Self {
            child,
            base,
            env,
            dir,
        };
        server.wait_healthy();
        server
    }

    /// Starts `herold serve`; its log goes to `serve.log` in its directory
    /// ([`Server::log`]).
    fn spawn_serve(dir: &Path, env: &[(String, String)]) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("serve.log"))
            .unwrap();
        Self::command(dir, env)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    /// What `herold serve` logged so far (all its runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    fn wait_healthy(&self) {
        let client = Client::new();
        super::wait_until(
            "herold serve to become healthy",
            Duration::from_secs(30),
            || {
                client
                    .get(self.url("/healthz"))
                    .send()
                    .is_ok_and(|r| r.status().is_success())
            },
        );
    }

    /// Kills the process (SIGKILL, as a crash would) and starts `herold
    /// serve` again on the same port, database and key, with `changes` to
    /// its environment.
    pub fn crash_and_restart(&mut self, changes: &[(&str, &str)]) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for (k, v) in changes {
            self.env.retain(|(key, _)| key != k);
            self.env.push((k.to_string(), v.to_string()));
        }
        self.child = Self::spawn_serve(self.dir.path(), &self.env);
        self.wait_healthy();
    }

    /// Stops the process as an operator would (SIGTERM: it finishes and
    /// releases what it holds) and starts it again unchanged.
    pub fn restart_gracefully(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let _ = self.child.wait();
        self.child = Self::spawn_serve(self.dir.path(), &self.env);
        self.wait_healthy();
    }

    /// Sends SIGTERM and waits for the process to end; how long that took
    /// and its exit status. [`Server::start_again`] starts it again.
    pub fn terminate(&mut self) -> (Duration, std::process::ExitStatus) {
        let started = std::time::Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        (started.elapsed(), exit)
    }

    /// Starts `herold serve` again after [`Server::terminate`], unchanged.
    pub fn start_again(&mut self) {
        self.child = Self::spawn_serve(self.dir.path(), &self.env);
        self.wait_healthy();
    }

    /// The process id, e.g. to read its CPU time.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn command(dir: &Path, env: &[(String, String)]) -> Command {
        let mut cmd = super::herold(dir);
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs a CLI command against the same database.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Self::command(self.dir.path(), &self.env)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "herold {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The library's view of this server's database (same file or URL,
    /// same key), publishing on e-mail like the servers these tests start.
    pub fn open_database(&self, database_url: Option<&str>) -> herold::service::Herold {
        let mut config = herold::config::Config::default();
        config.delivery.channels = vec![herold_channel_api::ChannelKind::Email];
        match database_url {
            Some(url) => {
                config.database_url = url.into();
                config.secret_key_file = Some(self.dir.path().join("pg.key"));
            }
            None => {
                config.database_url = self.dir.path().join("herold.db").display().to_string();
                config.secret_key_file = Some(self.dir.path().join("herold.key"));
            }
        }
        herold::service::Herold::open(config).unwrap()
    }

    /// Adds category `slug` with the CLI and subscribes `addresses` to it
    /// by e-mail (as an import, consent recorded); returns the library's
    /// view of the database.
    pub fn email_subscribers(
        &self,
        database_url: Option<&str>,
        slug: &str,
        addresses: &[String],
    ) -> herold::service::Herold {
        let name = format!("{}{}", slug[..1].to_uppercase(), &slug[1..]);
        self.cli(&["category", "add", slug, "--name", &name]);
        let app = self.open_database(database_url);
        let cat = app.db().find_category(slug).unwrap().unwrap();
        app.db()
            .import_subscribers(
                herold_channel_api::ChannelKind::Email,
                addresses,
                cat.id,
                herold::service::CONSENT_WORDING_VERSION,
                "test",
            )
            .unwrap();
        app
    }

    /// Posts a Telegram `Update` to this server's webhook with `secret` in
    /// `X-Telegram-Bot-Api-Secret-Token`; the status and the JSON answer.
    pub fn post_telegram(
        &self,
        secret: &str,
        update: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let r = Client::new()
            .post(self.url("/webhooks/telegram"))
            .header("content-type", "application/json")
            .header("X-Telegram-Bot-Api-Secret-Token", secret)
            .body(update.to_string())
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(serde_json::Value::Null))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Server {
    /// Fails the test if the log holds a secret of the server's
    /// environment, an e-mail address, a phone number or one of `markers`
    /// (residents' chat ids, message texts). Without markers it runs for
    /// every server when it is dropped.
    pub fn assert_log_private(&self, markers: &[&str]) {
        // The staff accounts' password is a secret too.
        let mut markers = markers.to_vec();
        markers.push(super::staff::PASSWORD);
        let found = super::log_privacy::findings(
            &self.log(),
            &super::log_privacy::secrets(&self.env),
            &markers,
        );
        assert!(
            found.is_empty(),
            "the log of `herold serve` holds what it must never hold:\n{}",
            found.join("\n")
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Not while a test is failing already (a second panic aborts).
        if !std::thread::panicking() {
            self.assert_log_private(&[]);
        }
    }
}
