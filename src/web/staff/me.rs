//! "My test recipients": an editor links their own subscriptions for test
//! sends from the composer (a code sent to the subscription confirms it).

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{service_failure, with_form_session, with_session, Chrome, Reply};
use crate::{
    domain::{Id, Permission},
    service::Herold,
};

struct Row {
    id: Id,
    pseudonym: String,
    channel: String,
    confirmed: bool,
}

#[derive(Template)]
#[template(path = "staff/me.html")]
struct MePage {
    c: Chrome,
    rows: Vec<Row>,
    notice: Option<String>,
}

/// Which notice the page shows.
#[derive(Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    notice: Option<String>,
}

/// `GET /staff/me`.
pub async fn page(
    app: web::Data<Herold>,
    req: HttpRequest,
    query: web::Query<NoticeQuery>,
) -> HttpResponse {
    let notice = query.into_inner().notice;
    with_session(app, &req, Some(Permission::Publish), move |app, session| {
        let c = Chrome::new(app, Some(session), &session.csrf_token);
        let rows = match app.test_recipients(&session.user) {
            Ok(r) => r,
            Err(e) => return service_failure(app, session, e),
        }
        .into_iter()
        .map(|(s, confirmed)| Row {
            id: s.id,
            pseudonym: s.pseudonym.to_string(),
            channel: c.t.get(&format!("channel.{}", s.channel.as_str())),
            confirmed,
        })
        .collect();
        let page = MePage {
            notice: notice
                .filter(|n| ["sent", "confirmed", "wrong", "removed"].contains(&n.as_str()))
                .map(|n| c.t.get(&format!("me.notice.{n}"))),
            rows,
            c,
        };
        Ok(Reply::html(
            StatusCode::OK,
            page.render().unwrap_or_default(),
        ))
    })
    .await
}

/// The page's forms.
#[derive(Deserialize)]
pub struct MeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    pseudonym: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    subscriber: Option<Id>,
}

/// `POST /staff/me`: link (sends a code), confirm or remove.
pub async fn save(
    app: web::Data<Herold>,
    req: HttpRequest,
    form: web::Form<MeForm>,
) -> HttpResponse {
    let f = form.into_inner();
    with_form_session(
        app,
        &req,
        Permission::Publish,
        f.csrf.clone(),
        move |app, session| {
            let user = &session.user;
            let notice = match f.action.as_str() {
                "link" => match app.link_test_recipient(user, &f.pseudonym) {
                    Ok(()) => "sent",
                    Err(e) => return service_failure(app, session, e),
                },
                "confirm" => match app.confirm_test_recipient(user, &f.pseudonym, &f.code) {
                    Ok(true) => "confirmed",
                    Ok(false) => "wrong",
                    Err(e) => return service_failure(app, session, e),
                },
                "remove" => match f.subscriber.map(|s| app.unlink_test_recipient(user, s)) {
                    Some(Ok(())) => "removed",
                    Some(Err(e)) => return service_failure(app, session, e),
                    None => return Ok(super::bad_request(app, session)),
                },
                _ => return Ok(super::bad_request(app, session)),
            };
            Ok(Reply::redirect(&format!("/staff/me?notice={notice}")))
        },
    )
    .await
}
