//! Headless Chromium (Debian's `chromium` and `chromium-driver`, installed
//! by scripts/test.sh) driven through chromedriver with fantoccini, and
//! axe-core (npm, also installed by the script) for accessibility checks.

use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// A chromedriver process and one browser session.
pub struct Browser {
    pub client: Client,
    /// Whether pages run JavaScript (axe-core needs it).
    javascript: bool,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn program(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

impl Browser {
    /// Starts chromedriver and a headless Chromium, with JavaScript on or
    /// off (to check that every core flow works without it).
    pub async fn start(javascript: bool) -> Self {
        let driver_path = program("HEROLD_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = program("HEROLD_TEST_CHROMIUM", "/usr/bin/chromium");
        assert!(
            driver_path.exists() && chromium.exists(),
            "chromium and chromedriver are missing: run ./scripts/test.sh, which installs them \
             (apt-get install chromium chromium-driver)"
        );
        let port = super::server::free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let profile = tempfile::tempdir().unwrap();
        let mut prefs = json!({});
        if !javascript {
            prefs = json!({"profile.managed_default_content_settings.javascript": 2});
        }
        let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    "--window-size=1280,1000", "--lang=de-DE",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": prefs,
            }
        }))
        .unwrap();
        // Both rustls back-ends are in the dependency tree; fantoccini's
        // builder needs one chosen (the connection itself is plain http).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url = format!("http://127.0.0.1:{port}");
        let mut last = String::new();
        for _ in 0..100 {
            match ClientBuilder::rustls()
                .unwrap()
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Self {
                        client,
                        javascript,
                        driver,
                        _profile: profile,
                    }
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start a session: {last}");
    }

    /// Whether pages run JavaScript.
    pub fn javascript(&self) -> bool {
        self.javascript
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Types `text` into the field `css` (cleared first).
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    /// The page's visible text (empty while a new page replaces it).
    pub async fn text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// Waits until the page's text contains `needle` (reloading when
    /// `reload`; a page without JavaScript refreshes itself).
    pub async fn wait_for_text(&self, needle: &str, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "\"{needle}\" did not appear on {}: {text}",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The serious and critical accessibility violations axe-core finds on
    /// the current page (WCAG 2.1 A and AA rules).
    pub async fn axe(&self) -> Vec<Value> {
        let source = std::fs::read_to_string(axe_path()).unwrap_or_else(|e| {
            panic!("axe-core is missing ({e}): run ./scripts/test.sh, which installs it from npm")
        });
        self.client.execute(&source, vec![]).await.unwrap();
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
                   .then(r => done(r.violations
                      .filter(v => v.impact === 'serious' || v.impact === 'critical')
                      .map(v => ({id: v.id, impact: v.impact, help: v.help,
                                  nodes: v.nodes.map(n => n.target.join(' '))}))))
                   .catch(e => done([{id: 'axe-error', help: String(e)}]));",
                vec![],
            )
            .await
            .unwrap();
        result.as_array().cloned().unwrap_or_default()
    }

    /// Checks the page with axe-core: no serious or critical violations.
    /// Without JavaScript axe cannot run; the same pages are checked in
    /// the run with JavaScript.
    pub async fn assert_accessible(&self) {
        if !self.javascript {
            return;
        }
        let violations = self.axe().await;
        assert!(
            violations.is_empty(),
            "accessibility violations on {}: {}",
            self.path().await,
            serde_json::to_string_pretty(&violations).unwrap()
        );
    }

    /// Saves a screenshot as docs/screenshots/NAME.png when
    /// HEROLD_SCREENSHOTS is set (the README shows them).
    pub async fn screenshot(&self, name: &str) {
        if std::env::var_os("HEROLD_SCREENSHOTS").is_none() {
            return;
        }
        let png = self.client.screenshot().await.unwrap();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn axe_path() -> PathBuf {
    program(
        "HEROLD_TEST_AXE",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/.test-peers/browser/node_modules/axe-core/axe.min.js"
        ),
    )
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
