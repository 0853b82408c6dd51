//! The staff application: signing in and out, the start page, and the
//! data-protection officer's reports and audit log. Every page is served
//! with `no-store` and a strict Content-Security-Policy; sessions live in
//! the database (the cookie holds a random token, `HttpOnly`,
//! `SameSite=Strict`, `Secure` behind https, path `/staff`), every form
//! carries a CSRF token, and each role sees only its own sections.

mod admin;
mod announcements;
mod compose;
mod inbox;
mod me;
mod pages;
mod reports;
mod statistics;

use actix_web::{
    cookie::{time::Duration as CookieDuration, Cookie, SameSite},
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use askama::Template;
use subtle::ConstantTimeEq;

use crate::{
    domain::Permission,
    i18n::Tr,
    service::Herold,
    storage::{StaffSession, StorageError},
};

/// The session cookie.
pub const SESSION_COOKIE: &str = "herold_staff";
/// The trusted-device cookie (see service/staff.rs).
pub const DEVICE_COOKIE: &str = "herold_device";
/// The sign-in form's CSRF cookie (double submit: no session exists yet).
pub const LOGIN_COOKIE: &str = "herold_login";

/// The staff routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/staff", web::get().to(pages::home))
        .route("/staff/login", web::get().to(pages::login_form))
        .route("/staff/login", web::post().to(pages::login))
        .route("/staff/logout", web::post().to(pages::logout))
        .route("/staff/reports", web::get().to(reports::index))
        .route("/staff/reports/consent", web::get().to(reports::consent))
        .route("/staff/reports/parity", web::get().to(reports::parity))
        .route(
            "/staff/reports/processing",
            web::get().to(reports::processing),
        )
        .route("/staff/audit", web::get().to(reports::audit))
        .route("/staff/compose", web::get().to(compose::new_form))
        .route("/staff/compose", web::post().to(compose::save))
        .route("/staff/drafts/{id}", web::get().to(compose::show))
        .route(
            "/staff/drafts/{id}/approve",
            web::post().to(compose::approve),
        )
        .route(
            "/staff/drafts/{id}/discard",
            web::post().to(compose::discard),
        )
        .route("/staff/drafts/{id}/image", web::get().to(compose::image))
        .route("/staff/drafts/{id}/email", web::get().to(compose::email))
        .route("/staff/announcements", web::get().to(announcements::list))
        .route(
            "/staff/announcements/{id}",
            web::get().to(announcements::show),
        )
        .route(
            "/staff/announcements/{id}/events",
            web::get().to(announcements::events),
        )
        .route(
            "/staff/announcements/{id}/control",
            web::post().to(announcements::control),
        )
        .route(
            "/staff/announcements/{id}/edit",
            web::post().to(announcements::edit),
        )
        .route(
            "/staff/announcements/{id}/cancel",
            web::post().to(announcements::cancel),
        )
        .route(
            "/staff/announcements/{id}/manual/{channel}",
            web::post().to(announcements::posted),
        )
        .route("/staff/statistics", web::get().to(statistics::page))
        .route("/staff/admin", web::get().to(admin::page))
        .route("/staff/admin", web::post().to(admin::save))
        .route("/staff/me", web::get().to(me::page))
        .route("/staff/me", web::post().to(me::save))
        .route(
            "/staff/drafts/{id}/test",
            web::post().to(compose::test_send),
        )
        .route("/staff/inbox", web::get().to(inbox::list))
        .route("/staff/inbox/{id}", web::get().to(inbox::show))
        .route("/staff/inbox/{id}/reply", web::post().to(inbox::reply))
        .route("/staff/inbox/{id}/close", web::post().to(inbox::close))
        .route(
            "/staff/inbox/messages/{id}/delete",
            web::post().to(inbox::delete_message),
        )
        .route("/staff/inbox/photos/{id}", web::get().to(inbox::photo))
        .route("/staff/templates", web::get().to(inbox::templates))
        .route("/staff/templates", web::post().to(inbox::save_template))
        .route(
            "/staff/assets/{name}.js",
            web::get().to(announcements::script),
        );
}

/// The staff pages' Content-Security-Policy: their own scripts, images
/// and frames (the e-mail preview) only.
const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self'; \
     frame-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// The e-mail preview's policy: shown only in a staff page's frame, with
/// no scripts, and its links not followed inside the frame.
const FRAMED_CSP: &str = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; \
     frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox allow-popups \
     allow-popups-to-escape-sandbox";

/// What every staff page shows around its content.
pub struct Chrome {
    pub lang: String,
    pub site: String,
    pub t: Tr,
    /// The signed-in user's display name.
    pub user: Option<String>,
    /// The token this page's forms carry.
    pub csrf: String,
    pub may_read_reports: bool,
    pub may_publish: bool,
    pub may_moderate: bool,
    pub may_see_statistics: bool,
    pub may_administer: bool,
}

impl Chrome {
    fn new(app: &Herold, session: Option<&StaffSession>, csrf: &str) -> Self {
        let lang = app.config().default_locale.clone();
        Self {
            t: Tr::new(&lang),
            lang,
            site: app.config().site_name.clone(),
            user: session.map(|s| s.user.display_name.clone()),
            csrf: csrf.to_owned(),
            may_read_reports: session.is_some_and(|s| s.user.role.may(Permission::ReadReports)),
            may_publish: session.is_some_and(|s| s.user.role.may(Permission::Publish)),
            may_moderate: session.is_some_and(|s| s.user.role.may(Permission::Moderate)),
            may_see_statistics: session
                .is_some_and(|s| s.user.role.may(Permission::ReadStatistics)),
            may_administer: session.is_some_and(|s| s.user.role.may(Permission::Administer)),
        }
    }
}

#[derive(Template)]
#[template(path = "staff/notice.html")]
struct NoticePage {
    c: Chrome,
    heading: String,
    paragraphs: Vec<String>,
    command: Option<String>,
}

/// A response built on the blocking pool (an `HttpResponse` cannot cross
/// threads), turned into one with the staff pages' headers.
pub struct Reply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// The Content-Security-Policy.
    pub csp: &'static str,
    pub location: Option<String>,
    pub cookies: Vec<Cookie<'static>>,
    /// A file name: the body is a download.
    pub download: Option<&'static str>,
}

impl Reply {
    fn html(status: StatusCode, body: String) -> Self {
        Self {
            status,
            content_type: "text/html; charset=utf-8",
            body: body.into_bytes(),
            csp: CSP,
            location: None,
            cookies: Vec::new(),
            download: None,
        }
    }

    /// Bytes of `content_type` (a draft's picture).
    fn bytes(content_type: &'static str, body: Vec<u8>) -> Self {
        Self {
            content_type,
            body,
            ..Self::html(StatusCode::OK, String::new())
        }
    }

    /// A page shown only inside a staff page's frame.
    fn framed_html(body: String) -> Self {
        Self {
            csp: FRAMED_CSP,
            ..Self::html(StatusCode::OK, body)
        }
    }

    fn redirect(to: &str) -> Self {
        Self {
            location: Some(to.to_owned()),
            ..Self::html(StatusCode::SEE_OTHER, String::new())
        }
    }

    fn into_response(self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        r.content_type(self.content_type)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::REFERRER_POLICY, "same-origin"))
            .insert_header((header::CONTENT_SECURITY_POLICY, self.csp));
        if let Some(to) = &self.location {
            r.insert_header((header::LOCATION, to.as_str()));
        }
        if let Some(name) = self.download {
            r.insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ));
        }
        for c in self.cookies {
            r.cookie(c);
        }
        r.body(self.body)
    }
}

/// A cookie of the staff application: `HttpOnly`, `SameSite=Strict`, path
/// `/staff`, `Secure` when the public address is https.
fn cookie(app: &Herold, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/staff")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(app.config().public_url.scheme() == "https")
        .finish()
}

/// The cookie that removes `name`.
fn removal(app: &Herold, name: &'static str) -> Cookie<'static> {
    let mut c = cookie(app, name, String::new());
    c.set_max_age(CookieDuration::ZERO);
    c
}

/// Whether `given` is `expected`, in constant time.
fn same(given: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// A page with a heading and text.
fn notice(
    app: &Herold,
    session: Option<&StaffSession>,
    status: StatusCode,
    heading: &str,
    text: &str,
    command: Option<String>,
) -> Reply {
    let c = Chrome::new(app, session, session.map_or("", |s| s.csrf_token.as_str()));
    let page = NoticePage {
        heading: c.t.get(heading),
        paragraphs: vec![c.t.get(text)],
        command,
        c,
    };
    Reply::html(status, page.render().unwrap_or_default())
}

/// The page for a staff action the service refused: storage failures are
/// errors (500); anything else names what went wrong.
fn service_failure(
    app: &Herold,
    session: &StaffSession,
    e: crate::service::ServiceError,
) -> Result<Reply, StorageError> {
    use crate::service::ServiceError as E;
    let (status, key, detail) = match e {
        E::Storage(StorageError::NotFound { .. }) => {
            (StatusCode::NOT_FOUND, "staff.not_found_text", None)
        }
        E::Storage(StorageError::Refused(m)) | E::Refused(m) => {
            (StatusCode::CONFLICT, "staff.refused", Some(m))
        }
        E::Storage(e) => return Err(e),
        E::OwnApproval => (StatusCode::FORBIDDEN, "compose.own_approval", None),
        e => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "staff.refused",
            Some(e.to_string()),
        ),
    };
    let c = Chrome::new(app, Some(session), &session.csrf_token);
    let page = NoticePage {
        heading: c.t.get("staff.not_done"),
        paragraphs: std::iter::once(c.t.get(key)).chain(detail).collect(),
        command: None,
        c,
    };
    Ok(Reply::html(status, page.render().unwrap_or_default()))
}

/// 404 for a draft or announcement that does not exist.
fn not_found(app: &Herold, session: &StaffSession) -> Reply {
    notice(
        app,
        Some(session),
        StatusCode::NOT_FOUND,
        "staff.not_found",
        "staff.not_found_text",
        None,
    )
}

/// 400 for a form a page of Herold's never sends.
fn bad_request(app: &Herold, session: &StaffSession) -> Reply {
    notice(
        app,
        Some(session),
        StatusCode::BAD_REQUEST,
        "staff.not_done",
        "staff.bad_request",
        None,
    )
}

/// [`with_session`] for a form: `needed` is required, and the form's
/// `csrf` must be the session's token (else 403, nothing done).
async fn with_form_session<F>(
    app: web::Data<Herold>,
    req: &HttpRequest,
    needed: Permission,
    csrf: String,
    f: F,
) -> HttpResponse
where
    F: FnOnce(&Herold, &StaffSession) -> Result<Reply, StorageError> + Send + 'static,
{
    with_session(app, req, Some(needed), move |app, session| {
        if !same(&csrf, &session.csrf_token) {
            return Ok(notice(
                app,
                Some(session),
                StatusCode::FORBIDDEN,
                "staff.forbidden",
                "staff.expired",
                None,
            ));
        }
        f(app, session)
    })
    .await
}

/// The form of a button that needs only the CSRF token.
#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// A staff action from a form: [`with_form_session`], then `f` with the
/// signed-in user; its `Ok` is where the browser goes next, its error the
/// page [`service_failure`] makes.
async fn act<F>(
    app: web::Data<Herold>,
    req: &HttpRequest,
    needed: Permission,
    csrf: String,
    f: F,
) -> HttpResponse
where
    F: FnOnce(&Herold, &crate::domain::StaffUser) -> Result<String, crate::service::ServiceError>
        + Send
        + 'static,
{
    with_form_session(app, req, needed, csrf, move |app, session| {
        match f(app, &session.user) {
            Ok(to) => Ok(Reply::redirect(&to)),
            Err(e) => service_failure(app, session, e),
        }
    })
    .await
}

/// Runs `f` with the signed-in session on the blocking pool: without one
/// the browser goes to the sign-in page, without `needed` it gets 403.
async fn with_session<F>(
    app: web::Data<Herold>,
    req: &HttpRequest,
    needed: Option<Permission>,
    f: F,
) -> HttpResponse
where
    F: FnOnce(&Herold, &StaffSession) -> Result<Reply, StorageError> + Send + 'static,
{
    let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    let app = app.into_inner();
    let reply = web::block(move || -> Result<Reply, StorageError> {
        let session = match &token {
            Some(t) => app.staff_session(t, chrono::Utc::now())?,
            None => None,
        };
        let Some(session) = session else {
            return Ok(Reply::redirect("/staff/login"));
        };
        if let Some(p) = needed {
            if !session.user.role.may(p) {
                return Ok(notice(
                    &app,
                    Some(&session),
                    StatusCode::FORBIDDEN,
                    "staff.forbidden",
                    "staff.forbidden_text",
                    None,
                ));
            }
        }
        f(&app, &session)
    })
    .await;
    match reply {
        Ok(Ok(r)) => r.into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "staff page failed");
            HttpResponse::InternalServerError().finish()
        }
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}
