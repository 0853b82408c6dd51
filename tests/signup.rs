//! E-mail sign-up with double opt-in, one-click unsubscribe and the manage
//! link, at the service level, on SQLite and on PostgreSQL.

// Tests may fail loudly: the workspace lints forbid this only outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use chrono::{DateTime, Duration, Utc};
use common::TestDb;
use herold::{
    config::{Config, SignupConfig},
    domain::{new_token, ConsentKind, Slug, SubscriberStatus, TokenPurpose},
    service::{
        ConfirmOutcome, Herold, SignupError, SignupOutcome, UnsubscribeOutcome,
        CONSENT_WORDING_VERSION,
    },
};
use herold_channel_api::ChannelKind;

const ADDRESS: &str = "Anna.Muster@Example.org";

fn setup(t: &TestDb) -> &Herold {
    let app = &t.app;
    for slug in ["abfall", "bau", "kultur"] {
        app.db()
            .add_category(
                &Slug::parse(slug).unwrap(),
                &format!("Name {slug}"),
                &common::test_audit,
            )
            .unwrap();
    }
    app
}

/// Signs `ADDRESS` up for `cats` and returns (subscriber id, token).
fn sign_up(app: &Herold, cats: &[&str], now: DateTime<Utc>) -> (i64, String) {
    match app
        .request_subscription(ChannelKind::Email, ADDRESS, cats, "de", now)
        .unwrap()
    {
        SignupOutcome::SendConfirmation {
            to,
            token,
            pseudonym,
            locale,
            expires_at,
            ..
        } => {
            assert_eq!(to, "anna.muster@example.org");
            assert_eq!(locale, "de");
            assert_eq!(expires_at, (now + Duration::hours(48)).trunc_micros());
            let s = app
                .db()
                .list_subscribers(None)
                .unwrap()
                .into_iter()
                .find(|s| s.pseudonym == pseudonym)
                .unwrap();
            (s.id, token)
        }
        other => panic!("expected a confirmation, got {other:?}"),
    }
}

trait TruncMicros {
    fn trunc_micros(self) -> Self;
}
impl TruncMicros for DateTime<Utc> {
    fn trunc_micros(self) -> Self {
        use chrono::SubsecRound;
        self.trunc_subsecs(6)
    }
}

fn slugs(v: &herold::service::ManageView) -> Vec<&str> {
    v.subscribed.iter().map(|c| c.slug.as_str()).collect()
}

fn token_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_owned()
}

both!(request_confirm_active_with_ledger, |t: &TestDb| {
    let app = setup(t);
    let now = Utc::now();
    let (id, token) = sign_up(app, &["bau", "abfall"], now);
    assert_eq!(
        app.db().get_subscriber(id).unwrap().status,
        SubscriberStatus::Pending
    );
    // At least 128 bits: 32 random bytes, URL-safe base64 without padding.
    assert_eq!(token.len(), 43);
    assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);

    let outcome = app
        .confirm_subscription(&token, now + Duration::hours(1))
        .unwrap();
    let ConfirmOutcome::Confirmed(s) = outcome else {
        panic!("expected Confirmed, got {outcome:?}");
    };
    assert_eq!(s.id, id);
    assert_eq!(s.status, SubscriberStatus::Active);
    assert!(s.confirmed_at.is_some());

    let ledger = app.db().consent_events_of(id).unwrap();
    let kinds: Vec<_> = ledger.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [ConsentKind::Given, ConsentKind::Confirmed]);
    for e in &ledger {
        assert_eq!(e.wording_version, CONSENT_WORDING_VERSION);
        assert_eq!(e.categories, ["abfall", "bau"]);
    }
    assert_eq!(ledger[0].evidence.as_deref(), Some("web-form"));
    let token_id = app.db().tokens_of(id).unwrap()[0].id;
    assert_eq!(
        ledger[1].evidence.as_deref(),
        Some(format!("confirm-token:{token_id}").as_str())
    );
    assert!(!ledger[1].evidence.as_deref().unwrap().contains(&token));
    let subs: Vec<i64> = app
        .db()
        .subscriptions_of(id)
        .unwrap()
        .iter()
        .map(|s| s.category_id)
        .collect();
    assert_eq!(subs.len(), 2);
});

both!(repeated_requests_are_throttled, |t: &TestDb| {
    let app = setup(t);
    let t0 = Utc::now();
    let (id, first) = sign_up(app, &["abfall"], t0);
    // Within ten minutes: no new mail, nothing changes.
    for later in [Duration::seconds(1), Duration::minutes(9)] {
        let o = app
            .request_subscription(ChannelKind::Email, ADDRESS, &["bau"], "en", t0 + later)
            .unwrap();
        assert_eq!(o, SignupOutcome::Throttled);
    }
    assert_eq!(app.db().tokens_of(id).unwrap().len(), 1);
    assert_eq!(app.db().consent_events_of(id).unwrap().len(), 1);
    // After the window: a new token; the request's categories replace the
    // pending ones and are recorded as given.
    let SignupOutcome::SendConfirmation { token: second, .. } = app
        .request_subscription(
            ChannelKind::Email,
            ADDRESS,
            &["bau"],
            "en",
            t0 + Duration::minutes(11),
        )
        .unwrap()
    else {
        panic!("expected a new confirmation after the window");
    };
    assert_ne!(first, second);
    let ledger = app.db().consent_events_of(id).unwrap();
    assert_eq!(ledger.len(), 2);
    assert_eq!(ledger[1].kind, ConsentKind::Given);
    assert_eq!(ledger[1].categories, ["bau"]);
    assert_eq!(app.db().get_subscriber(id).unwrap().locale, "en");
    // Either link confirms; the other is then just "already confirmed".
    let now = t0 + Duration::minutes(12);
    assert!(matches!(
        app.confirm_subscription(&first, now).unwrap(),
        ConfirmOutcome::Confirmed(_)
    ));
    assert_eq!(
        app.confirm_subscription(&second, now).unwrap(),
        ConfirmOutcome::AlreadyConfirmed
    );

    // Active: categories are not changed; manage-link mails are throttled too.
    let o = app
        .request_subscription(ChannelKind::Email, ADDRESS, &["kultur"], "de", now)
        .unwrap();
    let SignupOutcome::AlreadySubscribed { to, links, .. } = o else {
        panic!("expected AlreadySubscribed, got {o:?}");
    };
    assert_eq!(to, "anna.muster@example.org");
    assert!(links.manage.contains("/manage/"));
    assert_eq!(
        app.request_subscription(
            ChannelKind::Email,
            ADDRESS,
            &["kultur"],
            "de",
            now + Duration::minutes(5)
        )
        .unwrap(),
        SignupOutcome::Throttled
    );
    assert!(matches!(
        app.request_subscription(
            ChannelKind::Email,
            ADDRESS,
            &["kultur"],
            "de",
            now + Duration::minutes(15)
        )
        .unwrap(),
        SignupOutcome::AlreadySubscribed { .. }
    ));
    let view = app.manage_view(&token_of(&links.manage)).unwrap();
    assert_eq!(slugs(&view), ["bau"]);
    assert_eq!(app.db().consent_events_of(id).unwrap().len(), 3);
});

both!(expired_reused_and_unknown_tokens, |t: &TestDb| {
    let app = setup(t);
    let t0 = Utc::now();
    let (id, token) = sign_up(app, &["abfall"], t0);
    assert_eq!(
        app.confirm_subscription(&token, t0 + Duration::hours(49))
            .unwrap(),
        ConfirmOutcome::Expired
    );
    assert_eq!(
        app.db().get_subscriber(id).unwrap().status,
        SubscriberStatus::Pending
    );
    // Unknown: never issued, malformed, or a manage-shaped use of it.
    for bad in [
        new_token(),
        "kurz".to_owned(),
        format!("{token}x"),
        String::new(),
    ] {
        assert_eq!(
            app.confirm_subscription(&bad, t0).unwrap(),
            ConfirmOutcome::Unknown
        );
    }
    assert_eq!(
        app.unsubscribe_by_token(&token, t0).unwrap(),
        UnsubscribeOutcome::Unknown,
        "a confirm token is no manage token"
    );
    assert!(matches!(
        app.manage_view(&new_token()),
        Err(SignupError::UnknownToken)
    ));

    // A fresh token within the lifetime; clicking twice confirms once.
    let t1 = t0 + Duration::hours(50);
    let SignupOutcome::SendConfirmation { token: fresh, .. } = app
        .request_subscription(ChannelKind::Email, ADDRESS, &["abfall"], "de", t1)
        .unwrap()
    else {
        panic!("expected a new confirmation");
    };
    assert!(matches!(
        app.confirm_subscription(&fresh, t1 + Duration::hours(47))
            .unwrap(),
        ConfirmOutcome::Confirmed(_)
    ));
    for _ in 0..2 {
        assert_eq!(
            app.confirm_subscription(&fresh, t1 + Duration::hours(100))
                .unwrap(),
            ConfirmOutcome::AlreadyConfirmed
        );
    }
    let confirmed = app
        .db()
        .consent_events_of(id)
        .unwrap()
        .iter()
        .filter(|e| e.kind == ConsentKind::Confirmed)
        .count();
    assert_eq!(confirmed, 1);
    let used: Vec<_> = app
        .db()
        .tokens_of(id)
        .unwrap()
        .into_iter()
        .filter(|t| t.purpose == TokenPurpose::Confirm && t.used_at.is_some())
        .collect();
    assert_eq!(used.len(), 1);
});

both!(invalid_input_names_the_field, |t: &TestDb| {
    let app = setup(t);
    let now = Utc::now();
    for bad in ["", "anna", "anna@example", "anna @example.org", "a@b..org"] {
        let e = app
            .request_subscription(ChannelKind::Email, bad, &["abfall"], "de", now)
            .unwrap_err();
        assert!(matches!(e, SignupError::InvalidEmail { .. }), "{bad}: {e}");
        assert!(
            e.to_string().starts_with("email is invalid: expected"),
            "{e}"
        );
    }
    let e = app
        .request_subscription(
            ChannelKind::Email,
            "wer@mailinator.com",
            &["abfall"],
            "de",
            now,
        )
        .unwrap_err();
    assert!(matches!(e, SignupError::DisposableEmail), "{e}");
    assert!(e.to_string().contains("email"), "{e}");
    assert!(
        !e.to_string().contains("wer@"),
        "no address in messages: {e}"
    );

    let e = app
        .request_subscription(
            ChannelKind::Email,
            ADDRESS,
            &["abfall", "gibtsnicht"],
            "de",
            now,
        )
        .unwrap_err();
    assert!(matches!(e, SignupError::UnknownCategory { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("categories") && msg.contains("gibtsnicht") && msg.contains("abfall"),
        "{msg}"
    );
    let none: [&str; 0] = [];
    let e = app
        .request_subscription(ChannelKind::Email, ADDRESS, &none, "de", now)
        .unwrap_err();
    assert!(matches!(e, SignupError::NoCategories), "{e}");
    assert!(e.to_string().contains("categories"), "{e}");
    let e = app
        .request_subscription(ChannelKind::Email, ADDRESS, &["abfall"], "fr", now)
        .unwrap_err();
    assert!(e.to_string().contains("locale"), "{e}");
    assert!(app.db().list_subscribers(None).unwrap().is_empty());
});

both!(one_click_unsubscribe_is_idempotent, |t: &TestDb| {
    let app = setup(t);
    let now = Utc::now();
    let (id, token) = sign_up(app, &["abfall"], now);
    app.confirm_subscription(&token, now).unwrap();
    let links = app.manage_links(id).unwrap();
    assert_eq!(links, app.manage_links(id).unwrap(), "one manage token");
    let public = app.config().public_url.to_string();
    let manage = token_of(&links.manage);
    assert_eq!(links.one_click, format!("{public}unsubscribe/{manage}"));
    assert_eq!(links.manage, format!("{public}manage/{manage}"));
    assert_eq!(manage.len(), 43);
    assert_eq!(app.db().manage_token(id).unwrap(), manage);

    let o = app.unsubscribe_by_token(&manage, now).unwrap();
    let UnsubscribeOutcome::Left(s) = o else {
        panic!("expected Left, got {o:?}");
    };
    assert_eq!(s.status, SubscriberStatus::Unsubscribed);
    assert_eq!(
        app.unsubscribe_by_token(&manage, now).unwrap(),
        UnsubscribeOutcome::AlreadyLeft
    );
    let withdrawals: Vec<_> = app
        .db()
        .consent_events_of(id)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == ConsentKind::Withdrawn)
        .collect();
    assert_eq!(withdrawals.len(), 1);
    assert_eq!(withdrawals[0].evidence.as_deref(), Some("one-click"));
    assert_eq!(withdrawals[0].categories, ["abfall"]);
    assert!(app.db().subscriptions_of(id).unwrap().is_empty());
    assert!(matches!(
        app.set_categories(&manage, &["bau"]),
        Err(SignupError::Ended)
    ));

    // Signing up again: old confirmation links died with the withdrawal,
    // a new one brings the subscriber back.
    assert_eq!(
        app.confirm_subscription(&token, now).unwrap(),
        ConfirmOutcome::Unknown
    );
    let later = now + Duration::minutes(30);
    let (again, fresh) = sign_up(app, &["kultur"], later);
    assert_eq!(again, id);
    assert!(matches!(
        app.confirm_subscription(&fresh, later).unwrap(),
        ConfirmOutcome::Confirmed(_)
    ));
    // Confirming again rotates the manage link: the old one is dead.
    assert!(matches!(
        app.manage_view(&manage),
        Err(SignupError::UnknownToken)
    ));
    let renewed = token_of(&app.manage_links(id).unwrap().manage);
    assert_ne!(renewed, manage);
    let view = app.manage_view(&renewed).unwrap();
    assert_eq!(view.status, SubscriberStatus::Active);
    assert_eq!(slugs(&view), ["kultur"]);
    let kinds: Vec<_> = app
        .db()
        .consent_events_of(id)
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    use ConsentKind::*;
    assert_eq!(kinds, [Given, Confirmed, Withdrawn, Given, Confirmed]);
});

both!(set_categories_by_manage_link, |t: &TestDb| {
    let app = setup(t);
    let now = Utc::now();
    let (id, token) = sign_up(app, &["abfall"], now);
    app.confirm_subscription(&token, now).unwrap();
    let manage = token_of(&app.manage_links(id).unwrap().manage);

    let view = app.manage_view(&manage).unwrap();
    assert_eq!(view.subscriber_id, id);
    assert_eq!(view.status, SubscriberStatus::Active);
    assert_eq!(slugs(&view), ["abfall"]);
    assert_eq!(view.available.len(), 3);

    let view = app
        .set_categories(&manage, &["kultur", "bau", "bau"])
        .unwrap();
    assert_eq!(slugs(&view), ["bau", "kultur"]);
    // The same set again records nothing.
    app.set_categories(&manage, &["bau", "kultur"]).unwrap();
    let ledger = app.db().consent_events_of(id).unwrap();
    assert_eq!(ledger.len(), 3);
    let last = &ledger[2];
    assert_eq!(last.kind, ConsentKind::Given);
    assert_eq!(last.categories, ["bau", "kultur"]);
    assert!(last
        .evidence
        .as_deref()
        .is_some_and(|e| e.starts_with("manage-token:")));

    let none: [&str; 0] = [];
    assert!(matches!(
        app.set_categories(&manage, &none),
        Err(SignupError::NoCategories)
    ));
    assert!(matches!(
        app.set_categories(&manage, &["nope"]),
        Err(SignupError::UnknownCategory { .. })
    ));
    assert!(matches!(
        app.set_categories(&new_token(), &["bau"]),
        Err(SignupError::UnknownToken)
    ));
    assert_eq!(slugs(&app.manage_view(&manage).unwrap()), ["bau", "kultur"]);
});

both!(erase_by_link_removes_address_and_tokens, |t: &TestDb| {
    let app = setup(t);
    let now = Utc::now();
    let (id, token) = sign_up(app, &["abfall"], now);
    app.confirm_subscription(&token, now).unwrap();
    let manage = token_of(&app.manage_links(id).unwrap().manage);
    assert_eq!(app.db().tokens_of(id).unwrap().len(), 2);

    app.erase_by_token(&manage).unwrap();
    let s = app.db().get_subscriber(id).unwrap();
    assert_eq!(s.status, SubscriberStatus::Erased);
    assert_eq!(app.db().subscriber_address(id).unwrap(), None);
    assert!(app.db().tokens_of(id).unwrap().is_empty());
    assert!(matches!(
        app.db().manage_token(id),
        Err(herold::storage::StorageError::Refused(_))
    ));
    assert!(matches!(
        app.manage_view(&manage),
        Err(SignupError::UnknownToken)
    ));
    assert!(matches!(
        app.erase_by_token(&manage),
        Err(SignupError::UnknownToken)
    ));
    assert_eq!(
        app.unsubscribe_by_token(&manage, now).unwrap(),
        UnsubscribeOutcome::Unknown
    );
    assert_eq!(
        app.confirm_subscription(&token, now).unwrap(),
        ConfirmOutcome::Unknown
    );
    // The anonymous tally stays: given, confirmed, erased — with no link
    // to the person.
    let ledger = app.db().consent_ledger(0, 100).unwrap();
    let kinds: Vec<_> = ledger.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            ConsentKind::Given,
            ConsentKind::Confirmed,
            ConsentKind::Erased
        ]
    );
    assert!(ledger
        .iter()
        .all(|e| e.subscriber_id.is_none() && e.pseudonym.is_none() && e.evidence.is_none()));
    // The address may sign up afresh.
    let (fresh_id, _) = sign_up(app, &["bau"], now + Duration::hours(1));
    assert_ne!(fresh_id, id);
});

#[test]
fn tokens_are_not_stored_in_clear() {
    let t = TestDb::sqlite();
    let app = setup(&t);
    let now = Utc::now();
    let (id, confirm) = sign_up(app, &["abfall"], now);
    app.confirm_subscription(&confirm, now).unwrap();
    let manage = token_of(&app.manage_links(id).unwrap().manage);
    // A second subscriber, so the file holds more than one of each.
    app.request_subscription(ChannelKind::Email, "bernd@example.de", &["bau"], "de", now)
        .unwrap();

    let mut bytes = Vec::new();
    for name in ["herold.db", "herold.db-wal", "herold.db-shm"] {
        if let Ok(b) = std::fs::read(t.dir.path().join(name)) {
            bytes.extend(b);
        }
    }
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"confirm"), "sanity check: purposes are in clear");
    for token in [&confirm, &manage] {
        assert!(
            !contains(token.as_bytes()),
            "a token is in the database file"
        );
        let raw = URL_SAFE_NO_PAD.decode(token).unwrap();
        assert!(!contains(&raw), "a token's bytes are in the database file");
        assert!(
            !contains(&token.as_bytes()[..16]),
            "part of a token is in the file"
        );
    }
    // Still usable by whoever holds the key.
    assert_eq!(app.db().manage_token(id).unwrap(), manage);
}

#[test]
fn signup_settings_are_validated() {
    let c = Config {
        signup: SignupConfig {
            confirm_ttl_hours: 0,
            ..SignupConfig::default()
        },
        ..Config::default()
    };
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("signup.confirm_ttl_hours"), "{e}");
    assert_eq!(SignupConfig::default().confirm_ttl_hours, 48);
    assert_eq!(SignupConfig::default().resend_after_minutes, 10);
}

#[test]
fn confirm_lifetime_follows_the_configuration() {
    let t = TestDb::with_config(common::Backend::Sqlite, |c| {
        c.signup.confirm_ttl_hours = 2;
    });
    let app = setup(&t);
    let now = Utc::now();
    let SignupOutcome::SendConfirmation {
        token, expires_at, ..
    } = app
        .request_subscription(ChannelKind::Email, ADDRESS, &["abfall"], "de", now)
        .unwrap()
    else {
        panic!("expected a confirmation");
    };
    assert_eq!(expires_at, (now + Duration::hours(2)).trunc_micros());
    assert_eq!(
        app.confirm_subscription(&token, now + Duration::hours(3))
            .unwrap(),
        ConfirmOutcome::Expired
    );
}

both!(simultaneous_clicks_confirm_once, |t: &TestDb| {
    let app = setup(t);
    let now = Utc::now();
    let (id, token) = sign_up(app, &["abfall"], now);
    let outcomes: Vec<ConfirmOutcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| app.confirm_subscription(&token, now).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let confirmed = outcomes
        .iter()
        .filter(|o| matches!(o, ConfirmOutcome::Confirmed(_)))
        .count();
    assert_eq!(confirmed, 1, "{outcomes:?}");
    let links: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| app.manage_links(id).unwrap().manage))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(links.iter().all(|l| *l == links[0]), "one manage token");
    let ledger = app.db().consent_events_of(id).unwrap();
    assert_eq!(
        ledger
            .iter()
            .filter(|e| e.kind == ConsentKind::Confirmed)
            .count(),
        1
    );
});

both!(at_most_three_confirmation_mails_a_week, |t: &TestDb| {
    let app = setup(t);
    let now = Utc::now();
    let mail = |at| {
        matches!(
            app.request_subscription(
                ChannelKind::Email,
                "woche@example.org",
                &["abfall"],
                "de",
                at
            )
            .unwrap(),
            SignupOutcome::SendConfirmation { .. }
        )
    };
    // Hours apart (past the 10-minute resend window): three mails…
    for h in 0..3 {
        assert!(mail(now + Duration::hours(h)), "mail {h}");
    }
    // …then none for the rest of the week, however often it is entered.
    assert!(!mail(now + Duration::hours(3)));
    assert!(!mail(now + Duration::days(6)));
    assert!(mail(now + Duration::days(8)));
});
