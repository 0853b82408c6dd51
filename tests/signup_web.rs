//! E-mail sign-up over HTTP end to end, against `herold serve` and a real
//! SMTP server (aiosmtpd): the form, the confirmation mail, double opt-in
//! (a GET never confirms, the POST does), the newsletter with RFC 8058
//! headers and visible links, one-click unsubscribe (a GET never
//! unsubscribes), and that the next announcement no longer reaches the
//! address. Bad input gets a specific German message and changes nothing.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{
    server::{free_port, Server},
    smtp::Smtp,
};
use herold::domain::{ConsentKind, SubscriberStatus};
use herold_channel_api::ChannelKind;
use mail_parser::{Message, MessageParser, MimeHeaders};
use reqwest::blocking::Client;
use std::time::Duration;

const FROM: &str = "Gemeinde Musterstadt <info@musterstadt.example>";
/// Links in mails point here, as behind a TLS reverse proxy in production
/// (RFC 8058 one-click needs HTTPS); the tests map them to the server.
const PUBLIC: &str = "https://buergerinfo.musterstadt.example/";

fn serve(database_url: Option<&str>, smtp_port: u16) -> Server {
    let port = smtp_port.to_string();
    Server::start_with(
        database_url,
        &[
            ("HEROLD_DELIVERY__CHANNELS", r#"["email"]"#),
            ("HEROLD_DELIVERY__POLL_INTERVAL_MS", "20"),
            ("HEROLD_EMAIL__HOST", "127.0.0.1"),
            ("HEROLD_EMAIL__PORT", &port),
            ("HEROLD_EMAIL__SECURITY", "none"),
            ("HEROLD_EMAIL__FROM", FROM),
            ("HEROLD_PUBLIC_URL", PUBLIC),
        ],
    )
}

/// The server's own URL for a public link from a mail.
fn local(s: &Server, link: &str) -> String {
    let path = link
        .strip_prefix(PUBLIC)
        .unwrap_or_else(|| panic!("{link} does not start with {PUBLIC}"));
    s.url(&format!("/{path}"))
}

/// The mail to `to` whose subject is `subject`, waiting for it.
fn mail_with_subject(smtp: &Smtp, to: &str, subject: &str) -> Vec<u8> {
    common::poll_until(Duration::from_secs(30), || {
        mails_to(smtp, to)
            .into_iter()
            .find(|raw| parse(raw).subject() == Some(subject))
            .ok_or_else(|| format!("no mail {subject:?} to {to}"))
    })
}

/// The text part of a mail.
fn text_of(raw: &[u8]) -> String {
    parse(raw).body_text(0).unwrap().into_owned()
}

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn parse(raw: &[u8]) -> Message<'_> {
    MessageParser::default()
        .parse(raw)
        .expect("a parsable mail")
}

fn recipient(m: &Message<'_>) -> String {
    m.to()
        .unwrap()
        .first()
        .unwrap()
        .address()
        .unwrap()
        .to_owned()
}

/// The mails to `to`.
fn mails_to(smtp: &Smtp, to: &str) -> Vec<Vec<u8>> {
    let mails: Vec<Vec<u8>> = smtp
        .mails()
        .into_iter()
        .filter(|raw| recipient(&parse(raw)) == to)
        .collect();
    mails
}

fn wait_for_mails_to(smtp: &Smtp, to: &str, n: usize) -> Vec<Vec<u8>> {
    common::poll_until(Duration::from_secs(30), || {
        let mails = mails_to(smtp, to);
        if mails.len() >= n {
            Ok(mails)
        } else {
            Err(format!("{} of {n} mails to {to} arrived", mails.len()))
        }
    })
}

/// The URL in `text` that contains `path`.
fn link_in(text: &str, path: &str) -> String {
    text.split_whitespace()
        .find(|w| w.contains(path))
        .unwrap_or_else(|| panic!("no {path} link in {text}"))
        .trim_end_matches(['.', ',', ')', '>'])
        .trim_start_matches('<')
        .to_owned()
}

fn post_form(http: &Client, url: &str, body: &str) -> (u16, String) {
    let r = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

fn status_of(app: &herold::service::Herold, email: &str) -> Option<SubscriberStatus> {
    app.db()
        .find_subscriber_by_address(ChannelKind::Email, email)
        .unwrap()
        .map(|s| s.status)
}

fn publish(s: &Server, title: &str) {
    s.cli(&[
        "publish",
        "--category",
        "verkehr",
        "--title",
        title,
        "--body",
        "Die **Hauptstraße** ist gesperrt.",
    ]);
}

fn double_opt_in_and_one_click(database_url: Option<&str>) {
    let smtp_port = free_port();
    let smtp = Smtp::start(smtp_port);
    let s = serve(database_url, smtp_port);
    s.cli(&["category", "add", "verkehr", "--name", "Verkehr"]);
    s.cli(&["category", "add", "kultur", "--name", "Kultur & Freizeit"]);
    let app = s.open_database(database_url);
    // A second resident, subscribed by import, shows when an announcement
    // has gone out (so "nothing arrived" is not just "not yet").
    let verkehr = app.db().find_category("verkehr").unwrap().unwrap();
    app.db()
        .import_subscribers(
            ChannelKind::Email,
            &["kontrolle@example.org".to_owned()],
            verkehr.id,
            herold::service::CONSENT_WORDING_VERSION,
            "test",
        )
        .unwrap();
    let http = client();

    // Every page leads to the form, which lists the categories.
    let index = http.get(s.url("/")).send().unwrap().text().unwrap();
    assert!(index.contains(r#"<a href="/subscribe">"#), "{index}");
    assert!(index.contains("Informationsdienst"), "{index}");
    let form = http.get(s.url("/subscribe")).send().unwrap();
    assert_eq!(form.status(), 200);
    let form = form.text().unwrap();
    assert!(form.contains(r#"name="email""#), "{form}");
    assert!(form.contains(r#"value="verkehr""#), "{form}");
    assert!(form.contains("Kultur &#38; Freizeit") || form.contains("Kultur &amp; Freizeit"));

    // Sign up: a neutral page, a pending subscriber, a confirmation mail.
    let (status, page) = post_form(
        &http,
        &s.url("/subscribe"),
        "email=Anna.Muster%40Example.org&category=verkehr",
    );
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Bitte bestätigen Sie Ihre Anmeldung"),
        "{page}"
    );
    let anna = "anna.muster@example.org";
    assert_eq!(status_of(&app, anna), Some(SubscriberStatus::Pending));
    let confirm_mail = wait_for_mails_to(&smtp, anna, 1).remove(0);
    let confirm_mail = parse(&confirm_mail);
    assert_eq!(
        confirm_mail.subject(),
        Some("Bitte bestätigen Sie Ihre Anmeldung")
    );
    assert!(confirm_mail
        .content_type()
        .is_some_and(|c| c.subtype() == Some("alternative")));
    let text = confirm_mail.body_text(0).unwrap();
    assert!(text.contains("Informationsdienst"), "{text}");
    let confirm_link = link_in(&text, "/subscribe/confirm/");
    let html = confirm_mail.body_html(0).unwrap();
    assert!(
        html.contains(&format!(r#"href="{confirm_link}""#)),
        "{html}"
    );
    let confirm = local(&s, &confirm_link);

    // Signing up again at once sends no second mail (no flooding).
    for _ in 0..3 {
        let (status, again) = post_form(
            &http,
            &s.url("/subscribe"),
            "email=anna.muster%40example.org&category=verkehr",
        );
        assert_eq!(status, 200);
        assert!(again.contains("Bitte bestätigen Sie Ihre Anmeldung"));
    }

    // A GET (a link scanner) only shows the button.
    let get = http.get(&confirm).send().unwrap();
    assert_eq!(get.status(), 200);
    let get = get.text().unwrap();
    assert!(get.contains(r#"method="post""#), "{get}");
    assert_eq!(status_of(&app, anna), Some(SubscriberStatus::Pending));

    // The POST confirms; both steps are in the consent ledger.
    let (status, done) = post_form(&http, &confirm, "");
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("Ihre Anmeldung ist bestätigt"), "{done}");
    assert_eq!(status_of(&app, anna), Some(SubscriberStatus::Active));
    let subscriber = app
        .db()
        .find_subscriber_by_address(ChannelKind::Email, anna)
        .unwrap()
        .unwrap();
    let ledger = app.db().consent_events_of(subscriber.id).unwrap();
    let kinds: Vec<ConsentKind> = ledger.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [ConsentKind::Given, ConsentKind::Confirmed],
        "{ledger:?}"
    );
    assert!(ledger
        .iter()
        .all(|e| e.wording_version == herold::service::CONSENT_WORDING_VERSION));

    // Clicked twice: a friendly answer, nothing recorded twice.
    let (status, twice) = post_form(&http, &confirm, "");
    assert_eq!(status, 200);
    assert!(twice.contains("bereits bestätigt"), "{twice}");
    assert_eq!(app.db().consent_events_of(subscriber.id).unwrap().len(), 2);
    assert_eq!(mails_to(&smtp, anna).len(), 1, "one confirmation mail only");

    // The newsletter: both parts, RFC 8058 headers, visible links.
    publish(&s, "Sperrung der Hauptstraße");
    let news = mail_with_subject(&smtp, anna, "Sperrung der Hauptstraße");
    let news = parse(&news);
    assert_eq!(news.subject(), Some("Sperrung der Hauptstraße"));
    assert!(news
        .content_type()
        .is_some_and(|c| c.subtype() == Some("alternative")));
    let list_unsubscribe = news.header_raw("List-Unsubscribe").unwrap().trim();
    assert_eq!(
        news.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );
    let one_click_link = link_in(list_unsubscribe, "/unsubscribe/");
    assert!(one_click_link.starts_with(PUBLIC), "{one_click_link}");
    let text = news.body_text(0).unwrap();
    assert!(text.contains("Hauptstraße ist gesperrt"), "{text}");
    assert!(
        text.contains(&format!("Abmelden: {one_click_link}")),
        "{text}"
    );
    let manage_link = link_in(&text, "/manage/");
    let html = news.body_html(0).unwrap();
    assert!(html.contains("<strong>Hauptstraße</strong>"), "{html}");
    assert!(
        html.contains(&format!(r#"href="{one_click_link}""#)),
        "{html}"
    );
    assert!(html.contains(&format!(r#"href="{manage_link}""#)), "{html}");
    assert!(html.contains("Informationsdienst"), "{html}");
    let (one_click, manage) = (local(&s, &one_click_link), local(&s, &manage_link));
    wait_for_mails_to(&smtp, "kontrolle@example.org", 1);

    // The manage page works with the link from the mail.
    let page = http.get(&manage).send().unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().unwrap().contains(r#"value="verkehr" checked"#));

    // A GET of the unsubscribe link changes nothing.
    let get = http.get(&one_click).send().unwrap();
    assert_eq!(get.status(), 200);
    assert!(get.text().unwrap().contains(r#"method="post""#));
    assert_eq!(status_of(&app, anna), Some(SubscriberStatus::Active));

    // The mail program's one-click POST (RFC 8058) unsubscribes: no login,
    // no cookie, no further page.
    let (status, left) = post_form(&http, &one_click, "List-Unsubscribe=One-Click");
    assert_eq!(status, 200, "{left}");
    assert!(left.contains("Sie sind abgemeldet"), "{left}");
    assert_eq!(status_of(&app, anna), Some(SubscriberStatus::Unsubscribed));
    let ledger = app.db().consent_events_of(subscriber.id).unwrap();
    assert_eq!(ledger.last().unwrap().kind, ConsentKind::Withdrawn);
    assert_eq!(
        ledger.last().unwrap().evidence.as_deref(),
        Some("one-click")
    );
    let (status, again) = post_form(&http, &one_click, "List-Unsubscribe=One-Click");
    assert_eq!(status, 200);
    assert!(again.contains("bereits abgemeldet"), "{again}");

    // The next announcement reaches the other resident, not Anna.
    publish(&s, "Hauptstraße wieder frei");
    wait_for_mails_to(&smtp, "kontrolle@example.org", 2);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        mails_to(&smtp, anna).len(),
        2,
        "nothing after unsubscribing"
    );
}

#[test]
fn double_opt_in_and_one_click_on_sqlite() {
    double_opt_in_and_one_click(None);
}

#[test]
fn double_opt_in_and_one_click_on_postgres() {
    let pg = common::PgDatabase::create();
    double_opt_in_and_one_click(Some(&pg.url));
}

/// Bad input on the form: a specific message naming the field, the
/// entered values kept, nothing stored, nothing mailed.
#[test]
fn bad_sign_ups_are_refused_with_a_reason() {
    let smtp_port = free_port();
    let smtp = Smtp::start(smtp_port);
    let s = serve(None, smtp_port);
    s.cli(&["category", "add", "verkehr", "--name", "Verkehr"]);
    let app = s.open_database(None);
    let http = client();
    for (body, expected) in [
        (
            "email=anna&category=verkehr",
            "E-Mail-Adresse: Bitte geben Sie eine vollständige Adresse an",
        ),
        (
            "email=anna%40example&category=verkehr",
            "vollständige Adresse",
        ),
        ("email=&category=verkehr", "vollständige Adresse"),
        (
            "email=anna%40example.org%0D%0ABcc%3A+x%40example.org&category=verkehr",
            "vollständige Adresse",
        ),
        (
            "email=j%C3%BCrgen%40example.org&category=verkehr",
            "keine Umlaute",
        ),
        (
            "email=wer%40mailinator.com&category=verkehr",
            "Wegwerf-Diensten",
        ),
        (
            "email=anna%40example.org",
            "Themen: Bitte wählen Sie mindestens ein Thema",
        ),
        (
            "email=anna%40example.org&category=gibtsnicht",
            "Themen: Eines der gewählten Themen",
        ),
    ] {
        let (status, page) = post_form(&http, &s.url("/subscribe"), body);
        assert_eq!(status, 400, "{body}: {page}");
        assert!(page.contains(expected), "{body}: {page}");
        assert!(page.contains(r#"role="alert""#), "{body}");
    }
    // What was entered is kept.
    let (_, page) = post_form(
        &http,
        &s.url("/subscribe"),
        "email=wer%40mailinator.com&category=verkehr",
    );
    assert!(page.contains(r#"value="wer@mailinator.com""#), "{page}");
    assert!(page.contains(r#"value="verkehr" checked"#), "{page}");
    assert!(app.db().list_subscribers(None).unwrap().is_empty());
    std::thread::sleep(Duration::from_millis(300));
    assert!(smtp.mails().is_empty());

    // Unknown links: a clear answer, and no change.
    for path in ["/subscribe/confirm/", "/unsubscribe/"] {
        let (status, page) = post_form(
            &http,
            &s.url(&format!(
                "{path}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            )),
            "",
        );
        assert_eq!(status, 404, "{path}");
        assert!(page.contains("Dieser Link ist ungültig"), "{page}");
    }
    let page = http.get(s.url("/manage/nonsense")).send().unwrap();
    assert_eq!(page.status(), 404);
}

/// An expired confirmation link does not confirm; signing up again sends a
/// new one that works.
#[test]
fn expired_confirmation_link() {
    let smtp_port = free_port();
    let smtp = Smtp::start(smtp_port);
    let s = serve(None, smtp_port);
    s.cli(&["category", "add", "verkehr", "--name", "Verkehr"]);
    let app = s.open_database(None);
    let http = client();
    let (status, _) = post_form(
        &http,
        &s.url("/subscribe"),
        "email=bert%40example.org&category=verkehr",
    );
    assert_eq!(status, 200);
    let first = text_of(&wait_for_mails_to(&smtp, "bert@example.org", 1)[0]);
    let first = local(&s, &link_in(&first, "/subscribe/confirm/"));
    // Age every link (and its mail) beyond its lifetime.
    use diesel::{Connection, RunQueryDsl};
    let mut conn = diesel::sqlite::SqliteConnection::establish(
        &s.dir.path().join("herold.db").display().to_string(),
    )
    .unwrap();
    // The running server writes too: wait for its lock as Herold does.
    diesel::sql_query("PRAGMA busy_timeout = 5000")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query(
        "UPDATE subscriber_tokens SET expires_at = '2000-01-01 00:00:00', \
         mailed_at = '2000-01-01 00:00:00', created_at = '2000-01-01 00:00:00'",
    )
    .execute(&mut conn)
    .unwrap();
    let (status, page) = post_form(&http, &first, "");
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("abgelaufen"), "{page}");
    assert_eq!(
        status_of(&app, "bert@example.org"),
        Some(SubscriberStatus::Pending)
    );

    let (status, _) = post_form(
        &http,
        &s.url("/subscribe"),
        "email=bert%40example.org&category=verkehr",
    );
    assert_eq!(status, 200);
    let links: Vec<String> = wait_for_mails_to(&smtp, "bert@example.org", 2)
        .iter()
        .map(|m| local(&s, &link_in(&text_of(m), "/subscribe/confirm/")))
        .collect();
    let second = links.iter().find(|l| **l != first).unwrap().clone();
    let (status, _) = post_form(&http, &second, "");
    assert_eq!(status, 200);
    assert_eq!(
        status_of(&app, "bert@example.org"),
        Some(SubscriberStatus::Active)
    );
}

/// The manage page changes categories (at least one required) and erases
/// everything; the links stop working afterwards.
#[test]
fn manage_categories_and_erase() {
    let smtp_port = free_port();
    let smtp = Smtp::start(smtp_port);
    let s = serve(None, smtp_port);
    s.cli(&["category", "add", "verkehr", "--name", "Verkehr"]);
    s.cli(&["category", "add", "kultur", "--name", "Kultur"]);
    let app = s.open_database(None);
    let http = client();
    post_form(
        &http,
        &s.url("/subscribe"),
        "email=cem%40example.org&category=verkehr",
    );
    let text = text_of(&wait_for_mails_to(&smtp, "cem@example.org", 1)[0]);
    post_form(
        &http,
        &local(&s, &link_in(&text, "/subscribe/confirm/")),
        "",
    );
    publish(&s, "Baustelle");
    let news = text_of(&mail_with_subject(&smtp, "cem@example.org", "Baustelle"));
    let manage = local(&s, &link_in(&news, "/manage/"));

    let (status, page) = post_form(&http, &manage, "");
    assert_eq!(status, 400);
    assert!(page.contains("mindestens ein Thema"), "{page}");
    let (status, page) = post_form(&http, &manage, "category=kultur");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(r#"value="kultur" checked"#), "{page}");
    assert!(!page.contains(r#"value="verkehr" checked"#), "{page}");
    let cem = app
        .db()
        .find_subscriber_by_address(ChannelKind::Email, "cem@example.org")
        .unwrap()
        .unwrap();
    let kultur = app.db().find_category("kultur").unwrap().unwrap();
    let subs = app.db().subscriptions_of(cem.id).unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].category_id, kultur.id);

    // Erasing asks first; the confirmation's button erases.
    let (status, page) = post_form(&http, &format!("{manage}/erase"), "");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Wirklich alles löschen"), "{page}");
    assert!(status_of(&app, "cem@example.org").is_some());
    let (status, page) = post_form(&http, &format!("{manage}/erase?confirm=yes"), "");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Ihre Daten sind gelöscht"), "{page}");
    assert_eq!(status_of(&app, "cem@example.org"), None);
    assert_eq!(http.get(&manage).send().unwrap().status(), 404);
}

/// The SMTP server is down when a resident signs up: a clear message,
/// and trying again once it is back works at once (not throttled), with
/// one confirmation mail.
#[test]
fn sign_up_while_smtp_is_down() {
    let smtp_port = free_port();
    let s = serve(None, smtp_port);
    s.cli(&["category", "add", "verkehr", "--name", "Verkehr"]);
    let http = client();
    let (status, page) = post_form(
        &http,
        &s.url("/subscribe"),
        "email=dana%40example.org&category=verkehr",
    );
    assert_eq!(status, 503, "{page}");
    assert!(
        page.contains("konnte gerade nicht versandt werden"),
        "{page}"
    );

    let smtp = Smtp::start(smtp_port);
    let (status, page) = post_form(
        &http,
        &s.url("/subscribe"),
        "email=dana%40example.org&category=verkehr",
    );
    assert_eq!(status, 200, "{page}");
    let mail = wait_for_mails_to(&smtp, "dana@example.org", 1);
    let confirm = local(&s, &link_in(&text_of(&mail[0]), "/subscribe/confirm/"));
    let (status, _) = post_form(&http, &confirm, "");
    assert_eq!(status, 200);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(smtp.mails().len(), 1);
}

/// Without an `[email]` section the subscribe page offers no e-mail form
/// (only the other ways), and a posted address is refused instead of
/// accepted when nobody could confirm it.
#[test]
fn sign_up_without_email_configured() {
    let s = Server::start(None);
    let page = client().get(s.url("/subscribe")).send().unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().unwrap();
    assert!(!page.contains(r#"name="email""#), "{page}");
    assert!(page.contains("/feeds/all.atom"), "{page}");
    let (status, page) = post_form(&client(), &s.url("/subscribe"), "email=a%40example.org");
    assert_eq!(status, 503);
    assert!(page.contains("nicht eingerichtet"), "{page}");
}

/// One client cannot use the form to mail many addresses: after
/// `signup.max_per_client_per_hour` sign-ups it gets 429 with the form
/// (what was entered kept) and nothing is stored or mailed; another client
/// is not affected. Behind a proxy the configured header names the client.
#[test]
fn sign_ups_per_client_are_limited() {
    let smtp_port = free_port();
    let smtp = Smtp::start(smtp_port);
    let port = smtp_port.to_string();
    let s = Server::start_with(
        None,
        &[
            ("HEROLD_EMAIL__HOST", "127.0.0.1"),
            ("HEROLD_EMAIL__PORT", &port),
            ("HEROLD_EMAIL__SECURITY", "none"),
            ("HEROLD_EMAIL__FROM", FROM),
            ("HEROLD_SIGNUP__MAX_PER_CLIENT_PER_HOUR", "3"),
            ("HEROLD_SIGNUP__CLIENT_IP_HEADER", "X-Forwarded-For"),
        ],
    );
    s.cli(&["category", "add", "verkehr", "--name", "Verkehr"]);
    let app = s.open_database(None);
    let http = client();
    let sign_up = |client: &str, n: usize| {
        let r = http
            .post(s.url("/subscribe"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("X-Forwarded-For", format!("10.0.0.1, {client}"))
            .body(format!("email=nr{n}%40example.org&category=verkehr"))
            .send()
            .unwrap();
        let retry_after = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        (r.status().as_u16(), retry_after, r.text().unwrap())
    };
    for n in 0..3 {
        assert_eq!(sign_up("203.0.113.7", n).0, 200);
    }
    let (status, retry_after, page) = sign_up("203.0.113.7", 3);
    assert_eq!(status, 429, "{page}");
    assert!(retry_after.is_some_and(|s| s.parse::<u64>().unwrap() > 60));
    assert!(page.contains("zu viele Anmeldungen"), "{page}");
    assert!(page.contains(r#"value="nr3@example.org""#), "{page}");
    assert!(status_of(&app, "nr3@example.org").is_none());
    // Another client is served.
    assert_eq!(sign_up("203.0.113.8", 4).0, 200);
    smtp.wait_for(4, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(smtp.mails().len(), 4);
}
