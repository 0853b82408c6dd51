//! The staff application through `herold serve`: the first-account hint,
//! signing in (sessions new at every sign-in, cookies `HttpOnly` and
//! `SameSite=Strict`), CSRF on every form, roles (the data-protection
//! officer reads the reports and the audit log, an editor may not), and
//! throttled guessing that does not lock the staff out.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::server::Server;
use reqwest::blocking::{Client, Response};

const PASSWORD: &str = "lange-geheime-Phrase-2026";

fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The CSRF token of the first form on `page`.
fn csrf(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token");
    page[at + 19..].split('"').next().unwrap().to_owned()
}

/// Signs in as `user` from client address `ip`; the response.
fn sign_in(s: &Server, http: &Client, user: &str, password: &str, ip: &str) -> Response {
    let form = http
        .get(s.url("/staff/login"))
        .header("X-Forwarded-For", ip)
        .send()
        .unwrap()
        .text()
        .unwrap();
    http.post(s.url("/staff/login"))
        .header("X-Forwarded-For", ip)
        .form(&[
            ("csrf", csrf(&form).as_str()),
            ("username", user),
            ("password", password),
        ])
        .send()
        .unwrap()
}

fn add_user(s: &Server, name: &str, role: &str) {
    let file = s.dir.path().join(format!("{name}.pw"));
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    let out = s.cli(&[
        "user",
        "add",
        name,
        "--role",
        role,
        "--password-file",
        file.to_str().unwrap(),
    ]);
    assert!(out.contains("created"), "{out}");
}

fn staff_application(database_url: Option<&str>) {
    let s = Server::start_with(
        database_url,
        &[("HEROLD_SIGNUP__CLIENT_IP_HEADER", "X-Forwarded-For")],
    );
    // An empty installation says how to create the first account.
    let http = client();
    let page = http.get(s.url("/staff")).send().unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page
        .text()
        .unwrap()
        .contains("herold user add NAME --role admin"));

    add_user(&s, "dora", "dpo");
    add_user(&s, "erik", "editor");
    let out = s.cli(&["user", "list"]);
    assert!(out.contains("dora") && out.contains("dpo"), "{out}");
    // Passwords that are too short are refused with the rule.
    let short = s.dir.path().join("short.pw");
    std::fs::write(&short, "kurz\n").unwrap();
    let out = common::herold(s.dir.path())
        .envs(s.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(["user", "add", "kai", "--role", "editor", "--password-file"])
        .arg(&short)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 12 characters"));

    // Not signed in: to the sign-in page.
    let r = http.get(s.url("/staff/reports")).send().unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/staff/login");

    // A sign-in form without its CSRF token is refused.
    let r = http
        .post(s.url("/staff/login"))
        .form(&[
            ("csrf", "forged"),
            ("username", "dora"),
            ("password", PASSWORD),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // Signing in: a session cookie, HttpOnly, SameSite=Strict, path /staff.
    let r = sign_in(&s, &http, "dora", PASSWORD, "198.51.100.7");
    assert_eq!(r.status().as_u16(), 303);
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("herold_staff="))
        .expect("a session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/staff"] {
        assert!(session.contains(attr), "{session}");
    }
    let first_token = session.split(';').next().unwrap().to_owned();
    let home = http.get(s.url("/staff")).send().unwrap();
    assert_eq!(home.headers()["cache-control"], "no-store");
    assert!(home.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let home = home.text().unwrap();
    assert!(home.contains("Datenschutzbeauftragte"), "{home}");

    // The DPO's reports and audit log.
    let form = http.get(s.url("/staff/reports")).send().unwrap();
    assert_eq!(form.status().as_u16(), 200);
    let r = http
        .get(s.url("/staff/reports/consent?from=2026-01-01&to=2026-12-31"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().unwrap().contains("Einwilligungsbericht"));
    let r = http
        .get(s.url("/staff/reports/consent?from=2026-01-01&to=2026-12-31&format=csv"))
        .send()
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let r = http
        .get(s.url("/staff/reports/parity?from=2026-01-01&to=2026-12-31&format=json"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let _: serde_json::Value = r.json().unwrap();
    let r = http.get(s.url("/staff/reports/processing")).send().unwrap();
    assert!(r
        .text()
        .unwrap()
        .contains("Verzeichnis von Verarbeitungstätigkeiten"));
    // A bad period names the field.
    let r = http
        .get(s.url("/staff/reports/consent?from=gestern&to=2026-12-31"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r
        .text()
        .unwrap()
        .contains("from &#34;gestern&#34; is not a date"));
    let audit = http
        .get(s.url("/staff/audit?action=user"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        audit.contains("user.add") && audit.contains("user.sign_in"),
        "{audit}"
    );

    // Signing in again replaces the session: the old token is dead.
    let r = sign_in(&s, &http, "dora", PASSWORD, "198.51.100.7");
    assert_eq!(r.status().as_u16(), 303);
    let stale = client();
    let r = stale
        .get(s.url("/staff/reports"))
        .header("cookie", &first_token)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "the old session still works");

    // Signing out needs the form's CSRF token.
    let home = http.get(s.url("/staff")).send().unwrap().text().unwrap();
    let r = http
        .post(s.url("/staff/logout"))
        .form(&[("csrf", "forged")])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = http
        .post(s.url("/staff/logout"))
        .form(&[("csrf", csrf(&home).as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        http.get(s.url("/staff/reports"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        303
    );

    // An editor may not read the reports.
    let editor = client();
    assert_eq!(
        sign_in(&s, &editor, "erik", PASSWORD, "198.51.100.8")
            .status()
            .as_u16(),
        303
    );
    for path in [
        "/staff/reports",
        "/staff/reports/processing",
        "/staff/audit",
    ] {
        assert_eq!(
            editor.get(s.url(path)).send().unwrap().status().as_u16(),
            403,
            "{path}"
        );
    }

    // Guessing: one client gets 5 tries at one account, then is refused
    // even with the right password…
    let attacker = client();
    for _ in 0..5 {
        assert_eq!(
            sign_in(&s, &attacker, "dora", "falsch-falsch-falsch", "203.0.113.9")
                .status()
                .as_u16(),
            401
        );
    }
    assert_eq!(
        sign_in(&s, &attacker, "dora", PASSWORD, "203.0.113.9")
            .status()
            .as_u16(),
        429
    );
    // …while Dora signs in from her own browser.
    assert_eq!(
        sign_in(&s, &http, "dora", PASSWORD, "198.51.100.7")
            .status()
            .as_u16(),
        303
    );
    // Many clients together exhaust the account for strangers, not for the
    // browser Dora signed in with before (its device cookie).
    for i in 0..10 {
        let ip = format!("203.0.113.{}", 20 + i);
        let r = sign_in(&s, &client(), "dora", "falsch-falsch-falsch", &ip);
        assert!(matches!(r.status().as_u16(), 401 | 429), "{}", r.status());
    }
    assert_eq!(
        sign_in(&s, &client(), "dora", PASSWORD, "203.0.113.99")
            .status()
            .as_u16(),
        429
    );
    assert_eq!(
        sign_in(&s, &http, "dora", PASSWORD, "198.51.100.7")
            .status()
            .as_u16(),
        303
    );
    // Failures are in the database under keyed hashes, never the address.
    let app = s.open_database(database_url);
    let bytes = common::database_bytes(s.dir.path(), database_url);
    assert!(!bytes.windows(11).any(|w| w == b"203.0.113.9"));
    drop(app);
}

#[test]
fn staff_application_on_sqlite() {
    staff_application(None);
}

#[test]
fn staff_application_on_postgres() {
    let pg = common::PgDatabase::create();
    staff_application(Some(&pg.url));
}
