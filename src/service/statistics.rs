//! The reach of the service for staff: active subscribers per channel and
//! per category over the last weeks or months, and how far recent
//! announcements got on each channel.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use herold_channel_api::ChannelKind;

use super::{Herold, ServiceError};
use crate::domain::{DeliveryState, Id};

/// How far back the statistics look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Span {
    /// The last 12 weeks, one point per week.
    Weeks,
    /// The last 12 months, one point per month.
    Months,
}

/// One announcement's reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    pub announcement: Id,
    pub title: String,
    pub published: DateTime<Utc>,
    /// Per channel: (channel, reached, failed). Reached means handed to
    /// the provider or further (sent, delivered, read).
    pub channels: Vec<(ChannelKind, i64, i64)>,
}

/// The statistics page's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statistics {
    /// The moments counted (ends of weeks or months), oldest first.
    pub moments: Vec<DateTime<Utc>>,
    /// Active subscribers per channel at each moment.
    pub channels: Vec<(String, Vec<i64>)>,
    /// Active subscribers per category (name) at each moment.
    pub categories: Vec<(String, Vec<i64>)>,
    /// The latest published announcements, newest first.
    pub reach: Vec<Reach>,
}

/// The ends of the last 12 weeks or months, in the town's zone, the last
/// one being `now`.
fn moments(span: Span, now: DateTime<Utc>, tz: chrono_tz::Tz) -> Vec<DateTime<Utc>> {
    let local = now.with_timezone(&tz).date_naive();
    let start_of = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    };
    let mut out: Vec<DateTime<Utc>> = (1..12)
        .rev()
        .filter_map(|back| match span {
            Span::Weeks => {
                let monday =
                    local - Duration::days(i64::from(local.weekday().num_days_from_monday()));
                start_of(monday - Duration::weeks(back - 1))
            }
            Span::Months => {
                let first = local.with_day(1)?;
                let months = first.year() * 12 + i32::try_from(first.month0()).ok()?
                    - i32::try_from(back - 1).ok()?;
                start_of(NaiveDate::from_ymd_opt(
                    months / 12,
                    u32::try_from(months % 12).ok()? + 1,
                    1,
                )?)
            }
        })
        .collect();
    out.push(now);
    out
}

/// Statistics younger than this are served as they are.
const FRESH: std::time::Duration = std::time::Duration::from_secs(5);
/// Older ones (up to this age) are served while a new computation runs
/// in the background; older still, the request computes them.
const USABLE: std::time::Duration = std::time::Duration::from_secs(600);

/// The statistics last computed per span, and whether a computation runs.
/// Counting 100,000 subscribers takes longer than a page may (about 0.2 s
/// on SQLite), so pages show figures at most a few seconds old instead.
#[derive(Debug, Default)]
pub struct Cache {
    entries:
        std::sync::Mutex<std::collections::HashMap<Span, (std::time::Instant, Arc<Statistics>)>>,
    refreshing: std::sync::Mutex<std::collections::HashSet<Span>>,
}

use std::sync::Arc;

impl Herold {
    /// The statistics over `span` (reach of the last `recent`
    /// announcements), at most [`FRESH`] old — or, while a fresh set is
    /// computed in the background, at most [`USABLE`] old.
    pub fn statistics_cached(
        &self,
        span: Span,
        recent: i64,
    ) -> Result<Arc<Statistics>, ServiceError> {
        let cached = self
            .statistics
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&span)
            .cloned();
        match cached {
            Some((at, s)) if at.elapsed() < FRESH => Ok(s),
            Some((at, s)) if at.elapsed() < USABLE => {
                let start = self
                    .statistics
                    .refreshing
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(span);
                if start {
                    let app = self.clone();
                    std::thread::spawn(move || {
                        if let Err(e) = app.refresh_statistics(span, recent) {
                            tracing::warn!(error = %e, "statistics not refreshed");
                        }
                        app.statistics
                            .refreshing
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .remove(&span);
                    });
                }
                Ok(s)
            }
            _ => self.refresh_statistics(span, recent),
        }
    }

    fn refresh_statistics(&self, span: Span, recent: i64) -> Result<Arc<Statistics>, ServiceError> {
        let s = Arc::new(self.statistics(span, recent)?);
        self.statistics
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(span, (std::time::Instant::now(), s.clone()));
        Ok(s)
    }

    /// The statistics over `span`, with the reach of the last `recent`
    /// announcements, computed now.
    pub fn statistics(&self, span: Span, recent: i64) -> Result<Statistics, ServiceError> {
        let now = Utc::now();
        let moments = moments(span, now, self.config.tz());
        let channels = self
            .db
            .subscribers_over_time(&moments)?
            .into_iter()
            .collect();
        let by_category = self.db.category_subscribers_over_time(&moments)?;
        let categories = self
            .db
            .list_categories()?
            .into_iter()
            .map(|c| {
                let series = by_category
                    .get(&c.id)
                    .cloned()
                    .unwrap_or_else(|| vec![0; moments.len()]);
                (c.name, series)
            })
            .collect();
        let mut reach = Vec::new();
        for (a, _) in self.db.list_announcements(recent * 2)? {
            if reach.len() as i64 >= recent {
                break;
            }
            if a.cancelled_at.is_some() || a.publish_at > now {
                continue;
            }
            let channels = self
                .db
                .broadcast_counts(a.id)?
                .into_iter()
                .map(|b| {
                    let n = |s: DeliveryState| b.counts.get(&s).copied().unwrap_or(0);
                    (
                        b.broadcast.channel,
                        n(DeliveryState::Sent)
                            + n(DeliveryState::Delivered)
                            + n(DeliveryState::Read),
                        n(DeliveryState::Failed),
                    )
                })
                .collect();
            reach.push(Reach {
                announcement: a.id,
                title: a.title,
                published: a.publish_at,
                channels,
            });
        }
        Ok(Statistics {
            moments,
            channels,
            categories,
            reach,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_moments_ending_now() {
        let tz = chrono_tz::Europe::Berlin;
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        let weeks = moments(Span::Weeks, now, tz);
        assert_eq!(weeks.len(), 12);
        assert_eq!(weeks[11], now);
        // Monday 30 November 2026, 00:00 in Berlin.
        assert_eq!(
            weeks[10],
            Utc.with_ymd_and_hms(2026, 11, 29, 23, 0, 0).unwrap()
        );
        assert!(weeks.windows(2).all(|w| w[0] < w[1]));
        let months = moments(Span::Months, now, tz);
        assert_eq!(months.len(), 12);
        // 1 December 2026 and 1 February 2026, midnight in Berlin.
        assert_eq!(
            months[10],
            Utc.with_ymd_and_hms(2026, 11, 30, 23, 0, 0).unwrap()
        );
        assert_eq!(
            months[0],
            Utc.with_ymd_and_hms(2026, 1, 31, 23, 0, 0).unwrap()
        );
    }
}
