//! The start page, signing in and signing out.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{
    cookie, notice, removal, same, with_session, Chrome, Reply, DEVICE_COOKIE, LOGIN_COOKIE,
    SESSION_COOKIE,
};
use crate::{
    domain::new_token,
    service::{Herold, SignInAttempt, SignInError},
    storage::StorageError,
    web::client_limit::ClientLimit,
};

#[derive(Template)]
#[template(path = "staff/login.html")]
struct LoginPage {
    c: Chrome,
    error: Option<String>,
    username: String,
}

#[derive(Template)]
#[template(path = "staff/home.html")]
struct HomePage {
    c: Chrome,
    role_text: String,
}

/// The form of `POST /staff/login`.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// The form of `POST /staff/logout`.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// The page telling how to create the first account, when there is none.
fn no_users(app: &Herold) -> Result<Option<Reply>, StorageError> {
    if app.db().has_staff_users()? {
        return Ok(None);
    }
    Ok(Some(notice(
        app,
        None,
        StatusCode::OK,
        "staff.no_users",
        "staff.no_users_text",
        Some("herold user add NAME --role admin".into()),
    )))
}

/// The sign-in form with a fresh CSRF token (also set as a cookie).
fn login_page(app: &Herold, status: StatusCode, error: Option<&str>, username: &str) -> Reply {
    let token = new_token();
    let c = Chrome::new(app, None, &token);
    let page = LoginPage {
        error: error.map(|e| c.t.get(e)),
        username: username.to_owned(),
        c,
    };
    let mut reply = Reply::html(status, page.render().unwrap_or_default());
    reply.cookies.push(cookie(app, LOGIN_COOKIE, token));
    reply
}

async fn blocking(
    app: web::Data<Herold>,
    f: impl FnOnce(&Herold) -> Result<Reply, StorageError> + Send + 'static,
) -> HttpResponse {
    let app = app.into_inner();
    match web::block(move || f(&app)).await {
        Ok(Ok(r)) => r.into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "staff page failed");
            HttpResponse::InternalServerError().finish()
        }
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// `GET /staff`: what the signed-in role may do; on an installation
/// without accounts, how to create the first.
pub async fn home(app: web::Data<Herold>, req: HttpRequest) -> HttpResponse {
    let empty = {
        let app = app.clone().into_inner();
        web::block(move || no_users(&app)).await
    };
    if let Ok(Ok(Some(reply))) = empty {
        return reply.into_response();
    }
    with_session(app, &req, None, |app, session| {
        let c = Chrome::new(app, Some(session), &session.csrf_token);
        let page = HomePage {
            role_text: c
                .t
                .get(&format!("staff.role.{}", session.user.role.as_str())),
            c,
        };
        Ok(Reply::html(
            StatusCode::OK,
            page.render().unwrap_or_default(),
        ))
    })
    .await
}

/// `GET /staff/login`.
pub async fn login_form(app: web::Data<Herold>) -> HttpResponse {
    blocking(app, |app| {
        Ok(match no_users(app)? {
            Some(reply) => reply,
            None => login_page(app, StatusCode::OK, None, ""),
        })
    })
    .await
}

/// `POST /staff/login`: a new session (the old one, if any, ends) and,
/// for a browser that had none, a trusted-device cookie.
pub async fn login(
    app: web::Data<Herold>,
    limit: web::Data<ClientLimit>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let expected = req.cookie(LOGIN_COOKIE).map(|c| c.value().to_owned());
    let device = req.cookie(DEVICE_COOKIE).map(|c| c.value().to_owned());
    let previous = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    let client = limit.client(&req).map(|ip| ip.to_string());
    blocking(app, move |app| {
        if !same(&form.csrf, expected.as_deref().unwrap_or_default()) {
            return Ok(login_page(
                app,
                StatusCode::FORBIDDEN,
                Some("staff.expired"),
                &form.username,
            ));
        }
        let attempt = SignInAttempt {
            username: form.username.trim(),
            password: &form.password,
            client: client.as_deref(),
            device: device.as_deref(),
            previous_session: previous.as_deref(),
        };
        match app.sign_in(&attempt, chrono::Utc::now()) {
            Ok(signed) => {
                let mut reply = Reply::redirect("/staff");
                reply
                    .cookies
                    .push(cookie(app, SESSION_COOKIE, signed.session_token));
                if let Some(d) = signed.new_device_token {
                    let mut c = cookie(app, DEVICE_COOKIE, d);
                    c.set_max_age(actix_web::cookie::time::Duration::days(180));
                    reply.cookies.push(c);
                }
                reply.cookies.push(removal(app, LOGIN_COOKIE));
                tracing::info!(user = %signed.user.username, "staff signed in");
                Ok(reply)
            }
            Err(SignInError::Wrong) => Ok(login_page(
                app,
                StatusCode::UNAUTHORIZED,
                Some("staff.wrong"),
                &form.username,
            )),
            Err(SignInError::Throttled) => Ok(login_page(
                app,
                StatusCode::TOO_MANY_REQUESTS,
                Some("staff.throttled"),
                &form.username,
            )),
            Err(SignInError::Storage(e)) => Err(e),
        }
    })
    .await
}

/// `POST /staff/logout`: ends the session (its CSRF token required).
pub async fn logout(
    app: web::Data<Herold>,
    req: HttpRequest,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    let csrf = form.into_inner().csrf;
    with_session(app, &req, None, move |app, session| {
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
        if let Some(t) = &token {
            app.sign_out(t)?;
        }
        let mut reply = Reply::redirect("/staff/login");
        reply.cookies.push(removal(app, SESSION_COOKIE));
        Ok(reply)
    })
    .await
}
