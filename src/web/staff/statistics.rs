//! The statistics page: subscribers per channel and per category over
//! time, and the reach of recent announcements per channel — each chart
//! drawn on the server (SVG) with its table beside it for screen readers.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{service_failure, with_session, Chrome, Reply};
use crate::{
    domain::Permission,
    render::chart::{bar_chart, line_chart, Series},
    service::{Herold, Span},
};

/// How many announcements the reach chart shows.
const RECENT: i64 = 10;

/// A chart with its table.
struct Figure {
    id: &'static str,
    caption: String,
    svg: String,
    /// Column headings (the first names the rows).
    head: Vec<String>,
    rows: Vec<(String, Vec<i64>)>,
}

#[derive(Template)]
#[template(path = "staff/statistics.html")]
struct StatisticsPage {
    c: Chrome,
    /// When the figures were counted.
    as_of: String,
    weeks: bool,
    figures: Vec<Figure>,
}

/// The page's query.
#[derive(Deserialize)]
pub struct StatisticsQuery {
    #[serde(default)]
    span: Option<String>,
}

/// `GET /staff/statistics?span=weeks|months`.
pub async fn page(
    app: web::Data<Herold>,
    req: HttpRequest,
    query: web::Query<StatisticsQuery>,
) -> HttpResponse {
    let weeks = query.into_inner().span.as_deref() != Some("months");
    with_session(
        app,
        &req,
        Some(Permission::ReadStatistics),
        move |app, session| {
            let span = if weeks { Span::Weeks } else { Span::Months };
            let stats = match app.statistics_cached(span, RECENT) {
                Ok(s) => (*s).clone(),
                Err(e) => return service_failure(app, session, e),
            };
            let c = Chrome::new(app, Some(session), &session.csrf_token);
            let tz = app.config().tz();
            let last = stats.moments.len().saturating_sub(1);
            let labels: Vec<String> = stats
                .moments
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    if i == last {
                        c.t.get("statistics.now")
                    } else {
                        m.with_timezone(&tz).format("%d.%m.%y").to_string()
                    }
                })
                .collect();
            let over_time = |id: &'static str, caption: &str, rows: Vec<(String, Vec<i64>)>| {
                let series: Vec<Series<'_>> = rows
                    .iter()
                    .map(|(name, values)| Series { name, values })
                    .collect();
                Figure {
                    id,
                    caption: c.t.get(caption),
                    svg: line_chart(&labels, &series),
                    head: std::iter::once(c.t.get("statistics.at"))
                        .chain(rows.iter().map(|(n, _)| n.clone()))
                        .collect(),
                    // The table lists moments as rows, series as columns.
                    rows: labels
                        .iter()
                        .enumerate()
                        .map(|(i, l)| (l.clone(), rows.iter().map(|(_, v)| v[i]).collect()))
                        .collect(),
                }
            };
            let channel_rows = stats
                .channels
                .into_iter()
                .map(|(ch, v)| (c.t.get(&format!("channel.{ch}")), v))
                .collect();
            let mut figures = vec![
                over_time("channels", "statistics.channels", channel_rows),
                over_time("categories", "statistics.categories", stats.categories),
            ];
            // Reach: one group per announcement, one bar per channel.
            let mut kinds: Vec<herold_channel_api::ChannelKind> = stats
                .reach
                .iter()
                .flat_map(|r| r.channels.iter().map(|(k, _, _)| *k))
                .collect();
            kinds.sort();
            kinds.dedup();
            let reach: Vec<_> = stats.reach.iter().rev().collect();
            let titles: Vec<String> = reach.iter().map(|r| r.title.clone()).collect();
            let per_channel: Vec<(String, Vec<i64>)> = kinds
                .iter()
                .map(|k| {
                    (
                        c.t.get(&format!("channel.{}", k.as_str())),
                        reach
                            .iter()
                            .map(|r| {
                                r.channels
                                    .iter()
                                    .find(|(c, _, _)| c == k)
                                    .map_or(0, |(_, n, _)| *n)
                            })
                            .collect(),
                    )
                })
                .collect();
            let series: Vec<Series<'_>> = per_channel
                .iter()
                .map(|(name, values)| Series { name, values })
                .collect();
            figures.push(Figure {
                id: "reach",
                caption: c.t.get("statistics.reach"),
                svg: bar_chart(&titles, &series),
                head: std::iter::once(c.t.get("statistics.announcement"))
                    .chain(per_channel.iter().map(|(n, _)| n.clone()))
                    .collect(),
                rows: titles
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (t.clone(), per_channel.iter().map(|(_, v)| v[i]).collect()))
                    .collect(),
            });
            let as_of = stats
                .moments
                .last()
                .map(|m| m.with_timezone(&tz).format("%d.%m.%Y %H:%M:%S").to_string())
                .unwrap_or_default();
            let page = StatisticsPage {
                c,
                as_of,
                weeks,
                figures,
            };
            Ok(Reply::html(
                StatusCode::OK,
                page.render().unwrap_or_default(),
            ))
        },
    )
    .await
}
