//! The administrators' page: staff accounts (add, disable), categories
//! (add, four-eyes approval) and the channels (paused or held, resume).

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{act, with_session, Chrome, Reply};
use crate::{
    domain::{Permission, Role},
    service::{Herold, ServiceError},
};

struct UserRow {
    username: String,
    display_name: String,
    role: String,
    disabled: bool,
    me: bool,
}

struct CategoryRow {
    slug: String,
    name: String,
    approval: bool,
}

struct ChannelRow {
    id: &'static str,
    name: String,
    state: String,
    stopped: bool,
}

#[derive(Template)]
#[template(path = "staff/admin.html")]
struct AdminPage {
    c: Chrome,
    notice: Option<String>,
    users: Vec<UserRow>,
    categories: Vec<CategoryRow>,
    channels: Vec<ChannelRow>,
}

/// Which notice the page shows.
#[derive(Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    notice: Option<String>,
}

/// `GET /staff/admin`.
pub async fn page(
    app: web::Data<Herold>,
    req: HttpRequest,
    query: web::Query<NoticeQuery>,
) -> HttpResponse {
    let notice = query.into_inner().notice;
    with_session(
        app,
        &req,
        Some(Permission::Administer),
        move |app, session| {
            let c = Chrome::new(app, Some(session), &session.csrf_token);
            let users = app
                .db()
                .list_staff_users()?
                .into_iter()
                .map(|u| UserRow {
                    me: u.id == session.user.id,
                    role: c.t.get(&format!("admin.role.{}", u.role.as_str())),
                    username: u.username,
                    display_name: u.display_name,
                    disabled: u.disabled,
                })
                .collect();
            let mut categories = Vec::new();
            for cat in app.db().list_categories()? {
                categories.push(CategoryRow {
                    approval: app.db().category_requires_approval(cat.slug.as_str())?,
                    slug: cat.slug.to_string(),
                    name: cat.name,
                });
            }
            let holds = app.db().channel_holds()?;
            let tz = app.config().tz();
            let channels = app
                .config()
                .delivery
                .channels
                .iter()
                .map(|k| {
                    let hold = holds.iter().find(|(ch, _, _)| ch == k.as_str());
                    let state = match hold {
                        Some((_, _, Some(reason))) => {
                            crate::i18n::t(&c.lang, "admin.channel.held", &[("reason", reason)])
                        }
                        Some((_, Some(until), None)) => crate::i18n::t(
                            &c.lang,
                            "admin.channel.paused",
                            &[(
                                "until",
                                &until.with_timezone(&tz).format("%H:%M:%S").to_string(),
                            )],
                        ),
                        _ => c.t.get("admin.channel.running"),
                    };
                    ChannelRow {
                        id: k.as_str(),
                        name: c.t.get(&format!("channel.{}", k.as_str())),
                        state,
                        stopped: hold.is_some(),
                    }
                })
                .collect();
            let page = AdminPage {
                notice: notice
                    .filter(|n| {
                        [
                            "user_added",
                            "user_disabled",
                            "category_added",
                            "approval",
                            "resumed",
                        ]
                        .contains(&n.as_str())
                    })
                    .map(|n| c.t.get(&format!("admin.notice.{n}"))),
                users,
                categories,
                channels,
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

/// The page's forms.
#[derive(Deserialize)]
pub struct AdminForm {
    #[serde(default)]
    csrf: String,
    action: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    required: Option<String>,
    #[serde(default)]
    channel: String,
}

/// `POST /staff/admin`: add or disable an account, add a category, set
/// its approval rule, resume a channel — each audited.
pub async fn save(
    app: web::Data<Herold>,
    req: HttpRequest,
    form: web::Form<AdminForm>,
) -> HttpResponse {
    let f = form.into_inner();
    let csrf = f.csrf.clone();
    act(app, &req, Permission::Administer, csrf, move |app, user| {
        let refused = |e: String| ServiceError::Refused(e);
        let notice = match f.action.as_str() {
            "add_user" => {
                let role = Role::parse(&f.role)?;
                let display = if f.display_name.trim().is_empty() {
                    f.username.trim()
                } else {
                    f.display_name.trim()
                };
                app.add_staff_user(
                    f.username.trim(),
                    display,
                    role,
                    &f.password,
                    &user.username,
                )
                .map_err(|e| refused(e.to_string()))?;
                "user_added"
            }
            "disable_user" => {
                app.disable_staff_user(&f.username, &user.username)?;
                "user_disabled"
            }
            "add_category" => {
                app.add_category(&f.slug, &f.name, &user.username)?;
                "category_added"
            }
            "approval" => {
                app.set_category_approval(&f.slug, f.required.is_some(), &user.username)?;
                "approval"
            }
            "resume" => {
                let kind = f
                    .channel
                    .parse()
                    .map_err(|_| refused(format!("unknown channel {:?}", f.channel)))?;
                app.resume_channel(kind, &user.username)?;
                "resumed"
            }
            other => return Err(refused(format!("unknown action {other:?}"))),
        };
        Ok(format!("/staff/admin?notice={notice}"))
    })
    .await
}
