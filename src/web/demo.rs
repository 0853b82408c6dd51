//! The demo's pages (`herold demo` only): what each resident would have
//! received, per channel — chats for the messengers, a mailbox for e-mail —
//! and the "Demo" banner on every page Herold serves.

use actix_web::{
    body::{to_bytes, BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{header, StatusCode},
    middleware::Next,
    web, HttpResponse,
};
use askama::Template;
use herold_channel_api::ChannelKind;
use std::sync::Arc;

use crate::{demo::Sandbox, i18n::Tr, service::Herold};

/// The banner every page of a demo carries, right after `<body>`.
const BANNER: &str = "<div role=\"note\" style=\"background:#5b2a86;color:#fff;padding:.4rem 1rem;font:600 1rem system-ui,sans-serif;text-align:center\">Demo – keine echten Empfänger, keine echten Nachrichten. <a href=\"/demo\" style=\"color:#fff\">Was die Einwohner erhalten haben</a> · <a href=\"/staff\" style=\"color:#fff\">Verwaltung</a></div>";

/// Puts [`BANNER`] into every HTML page (demo only).
pub async fn banner(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !html {
        return Ok(res.map_into_boxed_body());
    }
    let (req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let bytes = to_bytes(body).await.unwrap_or_default();
    let page = String::from_utf8_lossy(&bytes);
    let page = match page
        .find("<body")
        .and_then(|i| page[i..].find('>').map(|j| i + j + 1))
    {
        Some(at) => format!("{}{BANNER}{}", &page[..at], &page[at..]),
        None => page.into_owned(),
    };
    let mut res = head.set_body(page).map_into_boxed_body();
    res.headers_mut().remove(header::CONTENT_LENGTH);
    Ok(ServiceResponse::new(req, res))
}

struct Resident {
    channel: &'static str,
    channel_name: String,
    to: String,
    count: usize,
}

#[derive(Template)]
#[template(path = "demo/index.html")]
struct IndexPage {
    t: Tr,
    site: String,
    residents: Vec<Resident>,
}

struct Shown {
    id: usize,
    when: String,
    subject: String,
    /// Safe HTML from the renderer, or escaped text.
    html: String,
    email: bool,
    template: Option<(String, String, String)>,
    image: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "demo/conversation.html")]
struct ConversationPage {
    t: Tr,
    site: String,
    channel_name: String,
    to: String,
    messages: Vec<Shown>,
}

fn sandbox(s: Option<web::Data<Arc<Sandbox>>>) -> Option<Arc<Sandbox>> {
    s.map(|d| d.get_ref().clone())
}

/// `GET /demo`: every resident with what they received.
pub async fn index(app: web::Data<Herold>, sb: Option<web::Data<Arc<Sandbox>>>) -> HttpResponse {
    let Some(sb) = sandbox(sb) else {
        return HttpResponse::NotFound().body("not found\n");
    };
    let t = Tr::new(&app.config().default_locale);
    let mut residents: Vec<Resident> = Vec::new();
    for m in sb.messages() {
        match residents
            .iter_mut()
            .find(|r| r.channel == m.channel.as_str() && r.to == m.to)
        {
            Some(r) => r.count += 1,
            None => residents.push(Resident {
                channel: m.channel.as_str(),
                channel_name: t.get(&format!("channel.{}", m.channel.as_str())),
                to: m.to.clone(),
                count: 1,
            }),
        }
    }
    residents.sort_by(|a, b| (a.channel, &a.to).cmp(&(b.channel, &b.to)));
    let page = IndexPage {
        site: app.config().site_name.clone(),
        t,
        residents,
    };
    html(page.render())
}

/// The query of a resident's page.
#[derive(serde::Deserialize)]
pub struct ToQuery {
    to: String,
}

/// `GET /demo/{channel}?to=ADDRESS`: one resident's chat or mailbox.
pub async fn conversation(
    app: web::Data<Herold>,
    sb: Option<web::Data<Arc<Sandbox>>>,
    path: web::Path<String>,
    query: web::Query<ToQuery>,
) -> HttpResponse {
    let (Some(sb), Ok(channel)) = (sandbox(sb), path.into_inner().parse::<ChannelKind>()) else {
        return HttpResponse::NotFound().body("not found\n");
    };
    let to = query.into_inner().to;
    let t = Tr::new(&app.config().default_locale);
    let tz = app.config().tz();
    let messages = sb
        .messages()
        .into_iter()
        .filter(|m| m.channel == channel && m.to == to)
        .map(|m| {
            let fm = &m.message;
            let email = channel == ChannelKind::Email && fm.html.is_some();
            let html = match (channel, &fm.html) {
                (ChannelKind::Matrix, Some(h)) => h.clone(),
                (ChannelKind::Telegram, _) => fm.text.clone(),
                _ => crate::render::format::html_lines(&fm.text),
            };
            Shown {
                id: m.id,
                when: m.at.with_timezone(&tz).format("%d.%m. %H:%M").to_string(),
                subject: fm.subject.clone().unwrap_or_default(),
                html,
                email,
                template: m.template.map(|f| (f.title, f.summary, f.link)),
                image: fm
                    .media
                    .first()
                    .map(|i| (i.url.clone(), i.caption.clone().unwrap_or_default())),
            }
        })
        .collect();
    let page = ConversationPage {
        site: app.config().site_name.clone(),
        channel_name: t.get(&format!("channel.{}", channel.as_str())),
        t,
        to,
        messages,
    };
    html(page.render())
}

/// `GET /demo/mail/{id}`: one e-mail's HTML part, for the mailbox's frame.
pub async fn mail(sb: Option<web::Data<Arc<Sandbox>>>, path: web::Path<usize>) -> HttpResponse {
    let id = path.into_inner();
    let found = sandbox(sb).and_then(|sb| {
        sb.messages()
            .into_iter()
            .find(|m| m.id == id && m.channel == ChannelKind::Email)
            .and_then(|m| m.message.html)
    });
    match found {
        Some(html) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox allow-popups",
            ))
            .body(html),
        None => HttpResponse::NotFound().body("not found\n"),
    }
}

fn html(page: Result<String, askama::Error>) -> HttpResponse {
    match page {
        Ok(body) => HttpResponse::build(StatusCode::OK)
            .content_type("text/html; charset=utf-8")
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'",
            ))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "demo page failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
