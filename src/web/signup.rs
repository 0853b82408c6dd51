//! E-mail sign-up with double opt-in, one-click unsubscribe (RFC 8058) and
//! the manage page. Links in mails only ever lead to a page with a button:
//! link scanners that follow every URL must not subscribe or unsubscribe
//! anyone, so every change is a POST.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;
use herold_channel_api::{Address, RenderedMessage};

use super::{client_limit::ClientLimit, pages::page_tr};
use crate::{
    domain::Category,
    i18n::Tr,
    registry::Registry,
    render::mail::{link_mail, LinkMail},
    service::{ConfirmOutcome, Herold, SignupError, SignupOutcome, UnsubscribeOutcome},
};

/// A category as a checkbox.
pub struct Choice {
    pub slug: String,
    pub name: String,
    pub checked: bool,
}

fn choices(all: &[Category], checked: &[String]) -> Vec<Choice> {
    all.iter()
        .map(|c| Choice {
            slug: c.slug.to_string(),
            name: c.name.clone(),
            checked: checked.iter().any(|s| s == c.slug.as_str()),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "subscribe.html")]
struct SubscribePage {
    lang: String,
    site: String,
    t: Tr,
    categories: Vec<Category>,
    choices: Vec<Choice>,
    email: String,
    error: Option<String>,
    /// The messengers with their links and QR codes.
    sections: Vec<JoinSection>,
    /// E-mail sign-up is configured.
    email_available: bool,
    /// The other language: its code and its name in itself.
    other_lang: (&'static str, &'static str),
    privacy_url: String,
    imprint_url: Option<String>,
}

/// One public link with its QR code.
struct JoinView {
    url: String,
    label: String,
    qr: Option<String>,
    /// What following it starts, in words.
    kind: String,
    /// The categories a public channel carries, if not all.
    categories: Option<String>,
}

/// A messenger on the subscribe page.
struct JoinSection {
    id: &'static str,
    name: String,
    links: Vec<JoinView>,
}

/// The languages of the public pages: German first, then English.
const LANGUAGES: [(&str, &str); 2] = [("de", "Deutsch"), ("en", "English")];

/// The page language: `requested` if supported, else the site's default.
pub(super) fn page_lang(app: &Herold, requested: Option<&str>) -> String {
    requested
        .and_then(|r| LANGUAGES.iter().find(|(code, _)| *code == r))
        .map(|(code, _)| (*code).to_owned())
        .unwrap_or_else(|| app.config().default_locale.clone())
}

/// Every configured messenger's join links, by channel.
fn join_sections(registry: &Registry, t: &Tr, categories: &[Category]) -> Vec<JoinSection> {
    registry
        .channels()
        .filter_map(|ch| {
            let links = ch.join_links();
            if links.is_empty() {
                return None;
            }
            let kind = ch.kind();
            let links = links
                .into_iter()
                .map(|l| JoinView {
                    qr: crate::render::qr::svg(&l.url),
                    kind: t.get(match l.kind {
                        herold_channel_api::JoinKind::Chat => "join.chat",
                        herold_channel_api::JoinKind::Follow => "join.follow",
                    }),
                    categories: (!l.categories.is_empty()).then(|| {
                        l.categories
                            .iter()
                            .map(|slug| {
                                categories
                                    .iter()
                                    .find(|c| c.slug.as_str() == slug)
                                    .map_or(slug.clone(), |c| c.name.clone())
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    }),
                    url: l.url,
                    label: l.label,
                })
                .collect();
            Some(JoinSection {
                id: kind.as_str(),
                name: t.get(&format!("channel.{}", kind.as_str())),
                links,
            })
        })
        .collect()
}

/// A button that POSTs.
pub struct Action {
    pub url: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage {
    lang: String,
    site: String,
    t: Tr,
    categories: Vec<Category>,
    heading: String,
    text: String,
    action: Option<Action>,
}

#[derive(Template)]
#[template(path = "manage.html")]
struct ManagePage {
    lang: String,
    site: String,
    t: Tr,
    categories: Vec<Category>,
    choices: Vec<Choice>,
    token: String,
    message: Option<String>,
}

/// Runs `f` on the blocking pool and renders its page, or a 500.
pub(super) async fn blocking_page<F>(app: web::Data<Herold>, f: F) -> HttpResponse
where
    F: FnOnce(&Herold) -> Result<(StatusCode, String), SignupError> + Send + 'static,
{
    let app = app.into_inner();
    match web::block(move || f(&app)).await {
        Ok(Ok((status, body))) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "sign-up page failed");
            HttpResponse::InternalServerError().finish()
        }
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

pub(super) fn notice(
    app: &Herold,
    heading: &str,
    text: &str,
    action: Option<Action>,
) -> Result<String, SignupError> {
    notice_in(app, &app.config().default_locale, heading, text, action)
}

/// [`notice`] in language `lang`.
pub(super) fn notice_in(
    app: &Herold,
    lang: &str,
    heading: &str,
    text: &str,
    action: Option<Action>,
) -> Result<String, SignupError> {
    let t = Tr::new(lang);
    Ok(NoticePage {
        lang: lang.to_owned(),
        site: app.config().site_name.clone(),
        categories: app.db().list_categories()?,
        heading: t.get(heading),
        text: t.get(text),
        action,
        t,
    }
    .render()
    .unwrap_or_default())
}

/// What residents read about bad input: which field, what is expected,
/// in the site's language.
fn error_text(t: &Tr, e: &SignupError) -> String {
    t.get(match e {
        SignupError::InvalidEmail { .. } => "signup.error.email",
        SignupError::NonAsciiLocalPart => "signup.error.email_ascii",
        SignupError::DisposableEmail => "signup.error.email_disposable",
        SignupError::NoCategories => "signup.error.no_category",
        SignupError::UnknownCategory { .. } => "signup.error.unknown_category",
        _ => "signup.error.other",
    })
}

/// Form fields, with repeated `category` keys, and the page's language.
fn form(body: &[u8]) -> (String, Vec<String>, Option<String>) {
    let mut email = String::new();
    let mut cats = Vec::new();
    let mut lang = None;
    for (k, v) in url::form_urlencoded::parse(body) {
        match k.as_ref() {
            "email" => email = v.into_owned(),
            "category" => cats.push(v.into_owned()),
            "lang" => lang = Some(v.into_owned()),
            _ => {}
        }
    }
    (email, cats, lang)
}

fn subscribe_page(
    app: &Herold,
    registry: &Registry,
    lang: &str,
    email: &str,
    checked: &[String],
    error: Option<String>,
) -> Result<String, SignupError> {
    let categories = app.db().list_categories()?;
    let t = Tr::new(lang);
    let privacy = &app.config().privacy;
    Ok(SubscribePage {
        lang: lang.to_owned(),
        site: app.config().site_name.clone(),
        sections: join_sections(registry, &t, &categories),
        email_available: registry.link_signup().is_some(),
        other_lang: LANGUAGES
            .into_iter()
            .find(|(code, _)| *code != lang)
            .unwrap_or(LANGUAGES[0]),
        privacy_url: privacy
            .notice_url
            .clone()
            .unwrap_or_else(|| format!("/privacy?lang={lang}")),
        imprint_url: privacy.imprint_url.clone(),
        t,
        choices: choices(&categories, checked),
        categories,
        email: email.to_owned(),
        error,
    }
    .render()
    .unwrap_or_default())
}

/// The subscribe page's query: its language.
#[derive(serde::Deserialize)]
pub struct LangQuery {
    #[serde(default)]
    pub(super) lang: Option<String>,
}

/// `GET /subscribe[?lang=en]`: every way to receive announcements — each
/// messenger's links with QR codes, the e-mail form, feeds and calendars.
pub async fn form_page(
    app: web::Data<Herold>,
    registry: web::Data<Registry>,
    query: web::Query<LangQuery>,
) -> HttpResponse {
    let registry = registry.into_inner();
    let requested = query.into_inner().lang;
    blocking_page(app, move |app| {
        let lang = page_lang(app, requested.as_deref());
        Ok((
            StatusCode::OK,
            subscribe_page(app, &registry, &lang, "", &[], None)?,
        ))
    })
    .await
}

/// `POST /subscribe`: records the request and mails the confirmation link.
pub async fn subscribe(
    req: HttpRequest,
    app: web::Data<Herold>,
    registry: web::Data<Registry>,
    runtime: web::Data<tokio::runtime::Handle>,
    limit: web::Data<ClientLimit>,
    body: web::Bytes,
) -> HttpResponse {
    let (email, cats, lang) = form(&body);
    let lang = page_lang(&app, lang.as_deref());
    let registry_page = registry.clone().into_inner();
    // Another site's page must not sign anyone up (or mail them).
    if !super::security::same_origin(&req, &app.config().public_url) {
        return blocking_page(app, |app| {
            Ok((
                StatusCode::FORBIDDEN,
                notice(app, "signup.title", "signup.cross_site", None)?,
            ))
        })
        .await;
    }
    if let Err(wait) = limit.check(&req) {
        // The form again with what was entered, and when to try again.
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let msg = crate::i18n::t(
            &lang,
            "signup.error.too_many",
            &[("minutes", &minutes.to_string())],
        );
        let mut page = blocking_page(app, move |app| {
            Ok((
                StatusCode::TOO_MANY_REQUESTS,
                subscribe_page(app, &registry_page, &lang, &email, &cats, Some(msg))?,
            ))
        })
        .await;
        page.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(wait.as_secs().max(1)),
        );
        return page;
    }
    let Some(channel) = registry.link_signup().map(|c| c.kind()) else {
        return blocking_page(app, |app| {
            Ok((
                StatusCode::SERVICE_UNAVAILABLE,
                notice(app, "signup.title", "signup.unavailable", None)?,
            ))
        })
        .await;
    };
    let a = app.clone().into_inner();
    let (e2, c2) = (email.clone(), cats.clone());
    let locale = lang.clone();
    let outcome =
        web::block(move || a.request_subscription(channel, &e2, &c2, &locale, Utc::now())).await;
    let outcome = match outcome {
        Ok(Ok(o)) => o,
        Ok(Err(e @ SignupError::Storage(_))) => {
            tracing::error!(error = %e, "sign-up failed");
            return HttpResponse::InternalServerError().finish();
        }
        // Bad input: the form again, with what was entered and why.
        Ok(Err(e)) => {
            let msg = error_text(&Tr::new(&lang), &e);
            return blocking_page(app, move |app| {
                Ok((
                    StatusCode::BAD_REQUEST,
                    subscribe_page(app, &registry_page, &lang, &email, &cats, Some(msg))?,
                ))
            })
            .await;
        }
        Err(_) => return HttpResponse::InternalServerError().finish(),
    };
    let mail = match &outcome {
        SignupOutcome::SendConfirmation {
            to,
            token,
            token_id,
            ..
        } => Some((
            to.clone(),
            LinkMail::Confirm,
            app.public_url(&format!("subscribe/confirm/{token}")),
            Some(*token_id),
        )),
        SignupOutcome::AlreadySubscribed { to, links, .. } => {
            Some((to.clone(), LinkMail::Manage, links.manage.clone(), None))
        }
        SignupOutcome::Throttled => None,
    };
    if let Some((to, kind, link, token_id)) = mail {
        let t = Tr::new(&lang);
        let sent = match (
            registry.link_signup(),
            link_mail(kind, &t, &app.config().site_name, &link),
        ) {
            (Some(channel), Ok((subject, bodies))) => {
                let mut message = RenderedMessage::new(bodies.text, t.locale());
                message.subject = Some(subject);
                message.html = Some(bodies.html);
                // On the process's runtime, like the engine's sends: the
                // adapter's pooled connections belong to it, not to this
                // request thread's runtime.
                let (herold, channel) = (app.clone().into_inner(), channel.clone());
                runtime
                    .spawn(async move {
                        crate::engine::send_transactional(
                            &herold,
                            &channel,
                            &Address::new(to),
                            &message,
                        )
                        .await
                    })
                    .await
                    .map_err(|e| format!("the send task failed: {e}"))
                    .and_then(|sent| sent.map(|_| ()).map_err(|e| e.to_string()))
            }
            (None, _) => Err("no channel signs residents up by link".to_owned()),
            (_, Err(e)) => Err(format!("mail template failed: {e}")),
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "confirmation mail not sent");
            // Let the resident try again at once instead of being throttled.
            if let Some(id) = token_id {
                let a = app.clone().into_inner();
                let _ = web::block(move || a.db().forget_mailed(id)).await;
            }
            return blocking_page(app, move |app| {
                Ok((
                    StatusCode::SERVICE_UNAVAILABLE,
                    notice_in(
                        app,
                        &lang,
                        "signup.check_inbox_title",
                        "signup.mail_failed",
                        None,
                    )?,
                ))
            })
            .await;
        }
    }
    // The same text whatever happened: nobody learns whether an address is known.
    blocking_page(app, move |app| {
        Ok((
            StatusCode::OK,
            notice_in(
                app,
                &lang,
                "signup.check_inbox_title",
                "signup.check_inbox",
                None,
            )?,
        ))
    })
    .await
}

/// `GET /subscribe/confirm/{token}`: a button, nothing else.
pub async fn confirm_page(app: web::Data<Herold>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    blocking_page(app, move |app| {
        let action = Action {
            url: format!("/subscribe/confirm/{token}"),
            label: page_tr(app).get("confirm.button"),
        };
        Ok((
            StatusCode::OK,
            notice(app, "confirm.title", "confirm.text", Some(action))?,
        ))
    })
    .await
}

/// `POST /subscribe/confirm/{token}`: activates the subscription.
pub async fn confirm(app: web::Data<Herold>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    blocking_page(app, move |app| {
        let (status, text) = match app.confirm_subscription(&token, Utc::now())? {
            ConfirmOutcome::Confirmed(_) => (StatusCode::OK, "confirm.done"),
            ConfirmOutcome::AlreadyConfirmed => (StatusCode::OK, "confirm.already"),
            ConfirmOutcome::Expired => (StatusCode::GONE, "confirm.expired"),
            ConfirmOutcome::Unknown => (StatusCode::NOT_FOUND, "confirm.unknown"),
        };
        Ok((status, notice(app, "confirm.title", text, None)?))
    })
    .await
}

/// `GET /unsubscribe/{token}`: a button (link scanners only GET).
pub async fn unsubscribe_page(app: web::Data<Herold>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    blocking_page(app, move |app| {
        let action = Action {
            url: format!("/unsubscribe/{token}"),
            label: page_tr(app).get("unsubscribe.button"),
        };
        Ok((
            StatusCode::OK,
            notice(app, "unsubscribe.title", "unsubscribe.text", Some(action))?,
        ))
    })
    .await
}

/// `POST /unsubscribe/{token}`: leaves at once, without login or cookie.
/// Mail programs send `List-Unsubscribe=One-Click` (RFC 8058); the button
/// on the page sends an empty form. Both get a short answer.
pub async fn unsubscribe(app: web::Data<Herold>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    blocking_page(app, move |app| {
        let (status, text) = match app.unsubscribe_by_token(&token, Utc::now())? {
            UnsubscribeOutcome::Left(_) => (StatusCode::OK, "unsubscribe.done"),
            UnsubscribeOutcome::AlreadyLeft => (StatusCode::OK, "unsubscribe.already"),
            UnsubscribeOutcome::Unknown => (StatusCode::NOT_FOUND, "confirm.unknown"),
        };
        Ok((status, notice(app, "unsubscribe.title", text, None)?))
    })
    .await
}

fn manage_page(
    app: &Herold,
    token: &str,
    status: StatusCode,
    message: Option<String>,
) -> Result<(StatusCode, String), SignupError> {
    let view = match app.manage_view(token) {
        Ok(v) => v,
        Err(SignupError::UnknownToken | SignupError::Ended) => {
            return Ok((
                StatusCode::NOT_FOUND,
                notice(app, "manage.title", "confirm.unknown", None)?,
            ))
        }
        Err(e) => return Err(e),
    };
    let t = page_tr(app);
    let checked: Vec<String> = view.subscribed.iter().map(|c| c.slug.to_string()).collect();
    Ok((
        status,
        ManagePage {
            lang: app.config().default_locale.clone(),
            site: app.config().site_name.clone(),
            choices: choices(&view.available, &checked),
            categories: view.available,
            token: token.to_owned(),
            message,
            t,
        }
        .render()
        .unwrap_or_default(),
    ))
}

/// `GET /manage/{token}`: categories, unsubscribe, erase.
pub async fn manage(app: web::Data<Herold>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    blocking_page(app, move |app| {
        manage_page(app, &token, StatusCode::OK, None)
    })
    .await
}

/// `POST /manage/{token}`: saves the chosen categories.
pub async fn save_categories(
    app: web::Data<Herold>,
    token: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let token = token.into_inner();
    let (_, cats, _) = form(&body);
    blocking_page(app, move |app| match app.set_categories(&token, &cats) {
        Ok(_) => {
            let saved = page_tr(app).get("manage.saved");
            manage_page(app, &token, StatusCode::OK, Some(saved))
        }
        Err(e @ SignupError::Storage(_)) => Err(e),
        Err(SignupError::UnknownToken | SignupError::Ended) => {
            manage_page(app, &token, StatusCode::NOT_FOUND, None)
        }
        // e.g. no category chosen: the page again, saying why.
        Err(e) => {
            let msg = error_text(&page_tr(app), &e);
            manage_page(app, &token, StatusCode::BAD_REQUEST, Some(msg))
        }
    })
    .await
}

/// `POST /manage/{token}/erase`: asks to confirm; with `?confirm=yes`
/// (the confirmation's button) erases the address and its history.
pub async fn erase(
    app: web::Data<Herold>,
    token: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let token = token.into_inner();
    let confirmed = req.query_string() == "confirm=yes";
    if !confirmed {
        return blocking_page(app, move |app| {
            if let Err(SignupError::UnknownToken | SignupError::Ended) = app.manage_view(&token) {
                return Ok((
                    StatusCode::NOT_FOUND,
                    notice(app, "manage.title", "confirm.unknown", None)?,
                ));
            }
            let action = Action {
                url: format!("/manage/{token}/erase?confirm=yes"),
                label: page_tr(app).get("manage.erase_confirm_button"),
            };
            Ok((
                StatusCode::OK,
                notice(
                    app,
                    "manage.erase_title",
                    "manage.erase_confirm",
                    Some(action),
                )?,
            ))
        })
        .await;
    }
    blocking_page(app, move |app| match app.erase_by_token(&token) {
        Ok(()) => Ok((
            StatusCode::OK,
            notice(app, "manage.title", "manage.erased", None)?,
        )),
        Err(SignupError::UnknownToken | SignupError::Ended) => Ok((
            StatusCode::NOT_FOUND,
            notice(app, "manage.title", "confirm.unknown", None)?,
        )),
        Err(e) => Err(e),
    })
    .await
}
