//! What residents and scrapers reach, hardened, through `herold serve`:
//! security headers on every page (and `no-store`/`no-referrer` where the
//! address carries a token), cross-site sign-ups refused while one-click
//! unsubscribe stays open to mail programs, and `/metrics` behind a token.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::server::Server;
use reqwest::blocking::Client;

const TOKEN: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

#[test]
fn pages_forms_and_metrics_are_hardened() {
    let s = Server::start_with(None, &[("HEROLD_METRICS_TOKEN", "scrape-geheim")]);
    s.cli(&["category", "add", "abfall", "--name", "Abfall"]);
    let http = Client::new();

    let page = http.get(s.url("/")).send().unwrap();
    let h = page.headers();
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin");
    for path in [
        format!("/manage/{TOKEN}"),
        format!("/confirm/{TOKEN}"),
        format!("/data/{TOKEN}"),
    ] {
        let r = http.get(s.url(&path)).send().unwrap();
        assert_eq!(r.headers()["cache-control"], "no-store", "{path}");
        assert_eq!(r.headers()["referrer-policy"], "no-referrer", "{path}");
    }

    // Another site's page cannot sign anyone up…
    let post = |headers: &[(&str, &str)]| {
        let mut r = http
            .post(s.url("/subscribe"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("email=opfer%40example.org&category=abfall");
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send().unwrap().status().as_u16()
    };
    assert_eq!(post(&[("origin", "https://evil.example")]), 403);
    assert_eq!(post(&[("sec-fetch-site", "cross-site")]), 403);
    // …while Herold's own form is taken (here: no mail channel configured).
    assert_ne!(post(&[("sec-fetch-site", "same-origin")]), 403);
    assert_ne!(post(&[("origin", &s.url(""))]), 403);
    // One-click unsubscribe stays open to mail programs (RFC 8058).
    let r = http
        .post(s.url(&format!("/unsubscribe/{TOKEN}")))
        .header("origin", "https://mail.example")
        .body("List-Unsubscribe=One-Click")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 404, "an unknown link, not a refusal");

    // /metrics wants its token.
    assert_eq!(
        http.get(s.url("/metrics"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    let wrong = http
        .get(s.url("/metrics"))
        .bearer_auth("falsch")
        .send()
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let right = http
        .get(s.url("/metrics"))
        .bearer_auth("scrape-geheim")
        .send()
        .unwrap();
    assert_eq!(right.status().as_u16(), 200);
    assert!(right.text().unwrap().contains("herold_"));
}
