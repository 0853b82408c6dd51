//! The data-protection officer's pages: the consent, parity and processing
//! reports (the same documents as `herold reports …`) and the audit log,
//! read-only.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{Duration, Utc};
use serde::Deserialize;

use super::{with_session, Chrome, Reply};
use crate::{
    domain::Permission,
    render::report,
    service::{period, Herold},
    storage::{AuditFilter, StaffSession, StorageError},
};

#[derive(Template)]
#[template(path = "staff/reports.html")]
struct ReportsPage {
    c: Chrome,
    error: Option<String>,
    from: String,
    to: String,
}

/// One audit entry as shown.
struct AuditRow {
    at: String,
    actor: String,
    action: String,
    subject: String,
    details: String,
}

#[derive(Template)]
#[template(path = "staff/audit.html")]
struct AuditPage {
    c: Chrome,
    error: Option<String>,
    actor: String,
    action: String,
    from: String,
    to: String,
    caption: String,
    events: Vec<AuditRow>,
}

/// A report's query.
#[derive(Deserialize, Default)]
pub struct ReportQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    gap_minutes: Option<u32>,
}

/// The audit log's filter.
#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The form page, with `error` about the query that brought the user back.
fn form_page(
    app: &Herold,
    session: &StaffSession,
    status: StatusCode,
    error: Option<String>,
) -> Reply {
    let today = Utc::now().with_timezone(&app.config().tz()).date_naive();
    let page = ReportsPage {
        c: Chrome::new(app, Some(session), &session.csrf_token),
        error,
        from: (today - Duration::days(30)).to_string(),
        to: today.to_string(),
    };
    Reply::html(status, page.render().unwrap_or_default())
}

/// A report in the format asked for.
fn document(
    format: Option<&str>,
    html: String,
    csv: Option<String>,
    json: String,
    name: &'static str,
) -> Reply {
    match format {
        Some("csv") if csv.is_some() => Reply {
            content_type: "text/csv; charset=utf-8",
            download: Some(name),
            ..Reply::html(StatusCode::OK, csv.unwrap_or_default())
        },
        Some("json") => Reply {
            content_type: "application/json",
            ..Reply::html(StatusCode::OK, json)
        },
        _ => Reply::html(StatusCode::OK, html),
    }
}

/// The query's period, or what is wrong with it.
fn report_period(
    app: &Herold,
    q: &ReportQuery,
) -> Result<(chrono::DateTime<Utc>, chrono::DateTime<Utc>), String> {
    period::period(("from", &q.from), ("to", &q.to), app.config().tz()).map_err(|e| e.to_string())
}

fn internal(e: impl std::fmt::Display) -> StorageError {
    StorageError::Refused(format!("report could not be written: {e}"))
}

/// `GET /staff/reports`.
pub async fn index(app: web::Data<Herold>, req: HttpRequest) -> HttpResponse {
    with_session(app, &req, Some(Permission::ReadReports), |app, s| {
        Ok(form_page(app, s, StatusCode::OK, None))
    })
    .await
}

/// `GET /staff/reports/consent?from=DAY&to=DAY[&format=html|csv|json]`.
pub async fn consent(
    app: web::Data<Herold>,
    req: HttpRequest,
    q: web::Query<ReportQuery>,
) -> HttpResponse {
    let q = q.into_inner();
    with_session(app, &req, Some(Permission::ReadReports), move |app, s| {
        let (from, to) = match report_period(app, &q) {
            Ok(p) => p,
            Err(e) => return Ok(form_page(app, s, StatusCode::BAD_REQUEST, Some(e))),
        };
        let r = app.consent_report(from, to).map_err(internal)?;
        let locale = &app.config().default_locale;
        Ok(document(
            q.format.as_deref(),
            report::consent_html(&r, &app.config().site_name, locale).map_err(internal)?,
            Some(report::consent_csv(&r).map_err(internal)?),
            serde_json::to_string_pretty(&r).map_err(internal)?,
            "einwilligungen.csv",
        ))
    })
    .await
}

/// `GET /staff/reports/parity?from=DAY&to=DAY[&gap_minutes=N][&format=…]`.
pub async fn parity(
    app: web::Data<Herold>,
    req: HttpRequest,
    q: web::Query<ReportQuery>,
) -> HttpResponse {
    let q = q.into_inner();
    with_session(app, &req, Some(Permission::ReadReports), move |app, s| {
        let (from, to) = match report_period(app, &q) {
            Ok(p) => p,
            Err(e) => return Ok(form_page(app, s, StatusCode::BAD_REQUEST, Some(e))),
        };
        let gap = q.gap_minutes.unwrap_or(10);
        if !(1..=10_080).contains(&gap) {
            let e = format!("gap_minutes {gap} is invalid: expected 1 to 10080 (a week)");
            return Ok(form_page(app, s, StatusCode::BAD_REQUEST, Some(e)));
        }
        let r = app.parity_report(from, to, gap).map_err(internal)?;
        let locale = &app.config().default_locale;
        Ok(document(
            q.format.as_deref(),
            report::parity_html(&r, &app.config().site_name, locale).map_err(internal)?,
            Some(report::parity_csv(&r).map_err(internal)?),
            serde_json::to_string_pretty(&r).map_err(internal)?,
            "paritaet.csv",
        ))
    })
    .await
}

/// `GET /staff/reports/processing[?format=json]`.
pub async fn processing(
    app: web::Data<Herold>,
    req: HttpRequest,
    q: web::Query<ReportQuery>,
) -> HttpResponse {
    let q = q.into_inner();
    with_session(app, &req, Some(Permission::ReadReports), move |app, _| {
        let r = app.processing_record(&app.config().default_locale);
        Ok(document(
            q.format.as_deref(),
            report::processing_html(&r).map_err(internal)?,
            None,
            serde_json::to_string_pretty(&r).map_err(internal)?,
            "verzeichnis.csv",
        ))
    })
    .await
}

/// `GET /staff/audit?actor=…&action=…&from=DAY&to=DAY`: the newest 500.
pub async fn audit(
    app: web::Data<Herold>,
    req: HttpRequest,
    q: web::Query<AuditQuery>,
) -> HttpResponse {
    let q = q.into_inner();
    with_session(app, &req, Some(Permission::ReadReports), move |app, s| {
        let tz = app.config().tz();
        let bound = |field: &str, raw: &str, end: bool| {
            (!raw.trim().is_empty())
                .then(|| period::bound(field, raw, tz, end))
                .transpose()
        };
        let c = Chrome::new(app, Some(s), &s.csrf_token);
        let (from, to) = match (bound("from", &q.from, false), bound("to", &q.to, true)) {
            (Ok(f), Ok(t)) => (f, t),
            (Err(e), _) | (_, Err(e)) => {
                let page = AuditPage {
                    caption: String::new(),
                    error: Some(e.to_string()),
                    events: Vec::new(),
                    actor: q.actor,
                    action: q.action,
                    from: q.from,
                    to: q.to,
                    c,
                };
                return Ok(Reply::html(
                    StatusCode::BAD_REQUEST,
                    page.render().unwrap_or_default(),
                ));
            }
        };
        let filter = AuditFilter {
            actor: Some(q.actor.trim().to_owned()).filter(|a| !a.is_empty()),
            action: Some(q.action.trim().to_owned()).filter(|a| !a.is_empty()),
            from,
            to,
            limit: 500,
        };
        let events: Vec<AuditRow> = app
            .db()
            .search_audit(&filter)?
            .into_iter()
            .map(|e| AuditRow {
                at: e
                    .occurred_at
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string(),
                actor: e.actor,
                action: e.action,
                subject: e.subject,
                details: e.details,
            })
            .collect();
        let caption = crate::i18n::t(
            &c.lang,
            "staff.audit_caption",
            &[("n", &events.len().to_string())],
        );
        let page = AuditPage {
            caption,
            error: None,
            events,
            actor: q.actor,
            action: q.action,
            from: q.from,
            to: q.to,
            c,
        };
        Ok(Reply::html(
            StatusCode::OK,
            page.render().unwrap_or_default(),
        ))
    })
    .await
}
