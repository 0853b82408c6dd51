//! Signing in to the staff application from tests.

use reqwest::blocking::Client;

use super::server::Server;

/// The password of every test account.
pub const PASSWORD: &str = "lange-geheime-Phrase-2026";

/// A browser-like client: cookies kept, redirects not followed.
pub fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The CSRF token of the first form on `page`.
pub fn csrf(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token");
    page[at + 19..].split('"').next().unwrap().to_owned()
}

/// `herold user add NAME --role ROLE` with [`PASSWORD`].
pub fn add_user(s: &Server, name: &str, role: &str) {
    let file = s.dir.path().join(format!("{name}.pw"));
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    s.cli(&[
        "user",
        "add",
        name,
        "--role",
        role,
        "--password-file",
        file.to_str().unwrap(),
    ]);
}

/// A client signed in as `user`.
pub fn signed_in(s: &Server, user: &str) -> Client {
    let http = client();
    let form = http
        .get(s.url("/staff/login"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let r = http
        .post(s.url("/staff/login"))
        .form(&[
            ("csrf", csrf(&form).as_str()),
            ("username", user),
            ("password", PASSWORD),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "{user} signs in");
    http
}
