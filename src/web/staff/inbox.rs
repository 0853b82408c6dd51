//! The inbox: residents' reports by pseudonym (open, answered, closed),
//! a conversation with its text and photos, answering — from a reply
//! template or freely —, closing a case (which starts its retention) and
//! deleting an abusive message; and the administrators' reply templates.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use super::{act, service_failure, with_form_session, with_session, Chrome, CsrfOnly, Reply};
use crate::{
    domain::{ConversationStatus, Direction, Id, Permission},
    i18n::t,
    service::Herold,
    storage::StorageError,
};

/// Most conversations one list shows.
const LIST_LIMIT: i64 = 200;

struct EntryRow {
    id: Id,
    who: String,
    channel: String,
    state: String,
    updated: String,
}

struct Tab {
    key: &'static str,
    label: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "staff/inbox.html")]
struct InboxPage {
    c: Chrome,
    tabs: Vec<Tab>,
    rows: Vec<EntryRow>,
    office: Option<String>,
    may_edit_templates: bool,
}

struct MessageRow {
    id: Id,
    from_resident: bool,
    who: String,
    when: String,
    text: String,
    photos: Vec<(Id, u32, u32)>,
}

struct TemplateChoice {
    id: Id,
    name: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "staff/conversation.html")]
struct ConversationPage {
    c: Chrome,
    id: Id,
    who: String,
    channel: String,
    state: String,
    open: bool,
    reachable: bool,
    messages: Vec<MessageRow>,
    templates: Vec<TemplateChoice>,
    reply: String,
    notice: Option<String>,
    error: Option<String>,
    confirm_delete: Option<Id>,
}

struct TemplateRow {
    id: Id,
    name: String,
    body: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "staff/templates.html")]
struct TemplatesPage {
    c: Chrome,
    rows: Vec<TemplateRow>,
    error: Option<String>,
    name: String,
    body: String,
    notice: Option<String>,
}

/// The inbox's filter.
#[derive(Deserialize)]
pub struct InboxQuery {
    #[serde(default)]
    show: Option<String>,
}

/// `GET /staff/inbox?show=open|answered|closed`.
pub async fn list(
    app: web::Data<Herold>,
    req: HttpRequest,
    query: web::Query<InboxQuery>,
) -> HttpResponse {
    let show = query.into_inner().show.unwrap_or_else(|| "open".into());
    with_session(
        app,
        &req,
        Some(Permission::Moderate),
        move |app, session| {
            let c = Chrome::new(app, Some(session), &session.csrf_token);
            let show = match show.as_str() {
                "answered" | "closed" => show,
                _ => "open".to_owned(),
            };
            let closed = show == "closed";
            let entries = match app.inbox(closed, LIST_LIMIT) {
                Ok(e) => e,
                Err(e) => return service_failure(app, session, e),
            };
            let ids: Vec<Id> = entries.iter().map(|e| e.conversation.id).collect();
            let last = app.db().last_directions(&ids)?;
            let tz = app.config().tz();
            let rows = entries
                .into_iter()
                .filter_map(|e| {
                    let answered = last.get(&e.conversation.id) == Some(&Direction::Outbound);
                    let state = match (closed, answered) {
                        (true, _) => "closed",
                        (false, true) => "answered",
                        (false, false) => "open",
                    };
                    (state == show).then(|| EntryRow {
                        id: e.conversation.id,
                        who: e
                            .pseudonym
                            .map(|p| p.to_string())
                            .unwrap_or_else(|| c.t.get("inbox.erased")),
                        channel: e
                            .channel
                            .map(|k| c.t.get(&format!("channel.{}", k.as_str())))
                            .unwrap_or_default(),
                        state: c.t.get(&format!("inbox.state.{state}")),
                        updated: e
                            .conversation
                            .updated_at
                            .with_timezone(&tz)
                            .format("%d.%m.%Y %H:%M")
                            .to_string(),
                    })
                })
                .collect();
            let office = app.config().conversations.schedule().map(|s| {
                let now = Utc::now();
                match (s.is_open(now, tz), s.next_opening(now, tz)) {
                    (true, _) => c.t.get("inbox.office_open"),
                    (false, Some(next)) => t(
                        &c.lang,
                        "inbox.office_closed",
                        &[(
                            "next",
                            &next.with_timezone(&tz).format("%d.%m. %H:%M").to_string(),
                        )],
                    ),
                    (false, None) => c.t.get("inbox.office_closed_now"),
                }
            });
            let tabs = ["open", "answered", "closed"]
                .into_iter()
                .map(|k| Tab {
                    key: k,
                    label: c.t.get(&format!("inbox.tab.{k}")),
                    current: k == show,
                })
                .collect();
            let page = InboxPage {
                tabs,
                rows,
                office,
                may_edit_templates: session.user.role.may(Permission::Administer),
                c,
            };
            Ok(Reply::html(
                StatusCode::OK,
                page.render().unwrap_or_default(),
            ))
        },
    )
    .await
}

/// What a conversation page shows besides the conversation.
#[derive(Deserialize, Default)]
pub struct ConversationQuery {
    /// A template to fill the answer with.
    #[serde(default)]
    template: Option<Id>,
    #[serde(default)]
    notice: Option<String>,
    /// A message whose deletion is to be confirmed.
    #[serde(default)]
    delete: Option<Id>,
}

/// `GET /staff/inbox/{id}`.
pub async fn show(
    app: web::Data<Herold>,
    req: HttpRequest,
    path: web::Path<Id>,
    query: web::Query<ConversationQuery>,
) -> HttpResponse {
    let id = path.into_inner();
    let q = query.into_inner();
    with_session(
        app,
        &req,
        Some(Permission::Moderate),
        move |app, session| {
            let reply = match q.template {
                Some(tid) => match app.reply_from_template(tid, id) {
                    Ok(text) => text,
                    Err(e) => return service_failure(app, session, e),
                },
                None => String::new(),
            };
            conversation_page(app, session, id, &q, reply, None)
        },
    )
    .await
}

fn conversation_page(
    app: &Herold,
    session: &crate::storage::StaffSession,
    id: Id,
    q: &ConversationQuery,
    reply: String,
    error: Option<String>,
) -> Result<Reply, StorageError> {
    let view = match app.conversation(id) {
        Ok(v) => v,
        Err(crate::service::ServiceError::Storage(StorageError::NotFound { .. })) => {
            return Ok(super::not_found(app, session))
        }
        Err(e) => return service_failure(app, session, e),
    };
    let c = Chrome::new(app, Some(session), &session.csrf_token);
    let tz = app.config().tz();
    let messages = view
        .messages
        .iter()
        .map(|m| MessageRow {
            id: m.id,
            from_resident: m.direction == Direction::Inbound,
            who: match m.direction {
                Direction::Inbound => c.t.get("inbox.resident"),
                Direction::Outbound => c.t.get("inbox.staff"),
            },
            when: m
                .created_at
                .with_timezone(&tz)
                .format("%d.%m.%Y %H:%M")
                .to_string(),
            text: m.text.clone().unwrap_or_default(),
            photos: view
                .photos
                .iter()
                .filter(|p| p.message_id == m.id)
                .map(|p| (p.id, p.width, p.height))
                .collect(),
        })
        .collect();
    let templates = app
        .db()
        .reply_templates()?
        .into_iter()
        .map(|t| TemplateChoice {
            selected: q.template == Some(t.id),
            id: t.id,
            name: t.name,
        })
        .collect();
    let open = view.entry.conversation.status == ConversationStatus::Open;
    let page = ConversationPage {
        id,
        who: view
            .entry
            .pseudonym
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_else(|| c.t.get("inbox.erased")),
        channel: view
            .entry
            .channel
            .map(|k| c.t.get(&format!("channel.{}", k.as_str())))
            .unwrap_or_default(),
        state: c.t.get(if open {
            "inbox.state.open"
        } else {
            "inbox.state.closed"
        }),
        open,
        reachable: view.entry.pseudonym.is_some(),
        messages,
        templates,
        reply,
        notice: q
            .notice
            .as_deref()
            .filter(|n| ["sent", "closed", "deleted"].contains(n))
            .map(|n| c.t.get(&format!("inbox.notice.{n}"))),
        error,
        confirm_delete: q.delete,
        c,
    };
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(Reply::html(status, page.render().unwrap_or_default()))
}

/// The answer form.
#[derive(Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
}

/// `POST /staff/inbox/{id}/reply`: the answer goes to the resident on the
/// channel they wrote from.
pub async fn reply(
    app: web::Data<Herold>,
    req: HttpRequest,
    path: web::Path<Id>,
    form: web::Form<ReplyForm>,
) -> HttpResponse {
    let id = path.into_inner();
    let form = form.into_inner();
    with_form_session(
        app,
        &req,
        Permission::Moderate,
        form.csrf,
        move |app, session| match app.reply_to_resident(id, &form.text, &session.user.username) {
            Ok(_) => Ok(Reply::redirect(&format!("/staff/inbox/{id}?notice=sent"))),
            Err(crate::service::ServiceError::Invalid(_)) => {
                let c = Chrome::new(app, Some(session), &session.csrf_token);
                conversation_page(
                    app,
                    session,
                    id,
                    &ConversationQuery::default(),
                    form.text,
                    Some(c.t.get("inbox.reply_invalid")),
                )
            }
            Err(e) => service_failure(app, session, e),
        },
    )
    .await
}

/// `POST /staff/inbox/{id}/close`.
pub async fn close(
    app: web::Data<Herold>,
    req: HttpRequest,
    path: web::Path<Id>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let id = path.into_inner();
    act(
        app,
        &req,
        Permission::Moderate,
        form.into_inner().csrf,
        move |app, user| {
            app.close_conversation(id, &user.username)?;
            Ok(format!("/staff/inbox/{id}?notice=closed"))
        },
    )
    .await
}

/// `POST /staff/inbox/messages/{id}/delete`: deletes an abusive message
/// (the page asked for confirmation first).
pub async fn delete_message(
    app: web::Data<Herold>,
    req: HttpRequest,
    path: web::Path<Id>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let id = path.into_inner();
    act(
        app,
        &req,
        Permission::Moderate,
        form.into_inner().csrf,
        move |app, user| {
            let conversation = app.delete_message(id, &user.username)?;
            Ok(format!("/staff/inbox/{conversation}?notice=deleted"))
        },
    )
    .await
}

/// `GET /staff/inbox/photos/{id}`: a resident's photo (decrypted; each
/// view is audited).
pub async fn photo(app: web::Data<Herold>, req: HttpRequest, path: web::Path<Id>) -> HttpResponse {
    let id = path.into_inner();
    with_session(
        app,
        &req,
        Some(Permission::Moderate),
        move |app, session| match app.export_photo(id, &session.user.username) {
            Ok(file) => Ok(Reply::bytes(file.photo.format.mime_type(), file.bytes)),
            Err(crate::service::ServiceError::Storage(StorageError::NotFound { .. })) => {
                Ok(super::not_found(app, session))
            }
            Err(e) => service_failure(app, session, e),
        },
    )
    .await
}

/// `GET /staff/templates`: the reply templates (administrators).
pub async fn templates(
    app: web::Data<Herold>,
    req: HttpRequest,
    query: web::Query<ConversationQuery>,
) -> HttpResponse {
    let notice = query.into_inner().notice;
    with_session(
        app,
        &req,
        Some(Permission::Administer),
        move |app, session| {
            templates_page(app, session, None, String::new(), String::new(), notice)
        },
    )
    .await
}

fn templates_page(
    app: &Herold,
    session: &crate::storage::StaffSession,
    error: Option<String>,
    name: String,
    body: String,
    notice: Option<String>,
) -> Result<Reply, StorageError> {
    let c = Chrome::new(app, Some(session), &session.csrf_token);
    let tz = app.config().tz();
    let rows = app
        .db()
        .reply_templates()?
        .into_iter()
        .map(|t| TemplateRow {
            updated: format!(
                "{} ({})",
                t.updated_at().with_timezone(&tz).format("%d.%m.%Y %H:%M"),
                t.updated_by
            ),
            id: t.id,
            name: t.name,
            body: t.body,
        })
        .collect();
    let page = TemplatesPage {
        rows,
        error,
        name,
        body,
        notice: notice
            .filter(|n| ["saved", "deleted"].contains(&n.as_str()))
            .map(|n| c.t.get(&format!("templates.notice.{n}"))),
        c,
    };
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(Reply::html(status, page.render().unwrap_or_default()))
}

/// The template form.
#[derive(Deserialize)]
pub struct TemplateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: Option<Id>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    body: String,
    /// `delete` deletes the template `id`.
    #[serde(default)]
    action: String,
}

/// `POST /staff/templates`: adds, changes or deletes a template.
pub async fn save_template(
    app: web::Data<Herold>,
    req: HttpRequest,
    form: web::Form<TemplateForm>,
) -> HttpResponse {
    let form = form.into_inner();
    with_form_session(
        app,
        &req,
        Permission::Administer,
        form.csrf.clone(),
        move |app, session| {
            let actor = session.user.username.clone();
            if form.action == "delete" {
                let Some(id) = form.id else {
                    return Ok(super::bad_request(app, session));
                };
                return match app.delete_reply_template(id, &actor) {
                    Ok(()) => Ok(Reply::redirect("/staff/templates?notice=deleted")),
                    Err(e) => service_failure(app, session, e),
                };
            }
            match app.save_reply_template(form.id, &form.name, &form.body, &actor) {
                Ok(_) => Ok(Reply::redirect("/staff/templates?notice=saved")),
                Err(e @ crate::service::ServiceError::Invalid(_))
                | Err(e @ crate::service::ServiceError::Storage(StorageError::Conflict { .. })) => {
                    let c = Chrome::new(app, Some(session), &session.csrf_token);
                    let key = match e {
                        crate::service::ServiceError::Storage(_) => "templates.name_taken",
                        _ => "templates.invalid",
                    };
                    templates_page(app, session, Some(c.t.get(key)), form.name, form.body, None)
                }
                Err(e) => service_failure(app, session, e),
            }
        },
    )
    .await
}
