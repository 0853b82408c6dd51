//! The run the messenger fan-out benches share: an announcement to every
//! subscriber, an urgent one once a quarter of them have the first, until
//! the fake provider accepted both for everyone; then the figures from the
//! fake's own record.

use anyhow::{anyhow, Result};
use std::time::{Duration, Instant};

/// The urgent announcement's title, to find its first delivery.
pub const URGENT_TITLE: &str = "Hochwasserwarnung";
/// Longest time without a new message before the run is given up.
const STALL: Duration = Duration::from_secs(60);

/// One message the fake accepted: when (on its clock) and its text.
pub struct Accepted {
    pub at: Duration,
    pub text: String,
}

/// What a run measured.
pub struct Figures {
    pub messages: usize,
    /// Seconds from the first to the last accepted message.
    pub span: f64,
    pub per_s: f64,
    /// Most messages accepted within any one second.
    pub busiest: usize,
    /// From publishing the urgent announcement to its first delivery.
    pub first_urgent: Option<Duration>,
}

/// Publishes (`publish(title, urgent)`) and waits until `2 × subscribers`
/// messages were accepted (`accepted()`, in order; `now()` is the fake's
/// clock).
pub fn run(
    subscribers: usize,
    publish: impl Fn(&str, bool) -> Result<()>,
    accepted: impl Fn() -> Vec<Accepted>,
    now: impl Fn() -> Duration,
) -> Result<Figures> {
    let total = 2 * subscribers;
    publish("Bekanntmachung", false)?;
    let mut urgent_at: Option<Duration> = None;
    let mut progress = (0, Instant::now());
    let sent = loop {
        let sent = accepted();
        if urgent_at.is_none() && sent.len() >= subscribers / 4 {
            publish(URGENT_TITLE, true)?;
            urgent_at = Some(now());
        }
        if sent.len() >= total {
            break sent;
        }
        if sent.len() > progress.0 {
            progress = (sent.len(), Instant::now());
        } else if progress.1.elapsed() > STALL {
            return Err(anyhow!("stalled at {} of {total} messages", sent.len()));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let first = sent.first().map_or(Duration::ZERO, |m| m.at);
    let last = sent.last().map_or(Duration::ZERO, |m| m.at);
    let span = (last - first).as_secs_f64();
    let per_s = if span > 0.0 {
        (sent.len() - 1) as f64 / span
    } else {
        0.0
    };
    let mut busiest = 0;
    let mut lo = 0;
    for hi in 0..sent.len() {
        while sent[hi].at - sent[lo].at >= Duration::from_secs(1) {
            lo += 1;
        }
        busiest = busiest.max(hi - lo + 1);
    }
    let urgent_at = urgent_at.unwrap_or_default();
    let first_urgent = sent
        .iter()
        .find(|m| m.text.contains(URGENT_TITLE))
        .map(|m| m.at.saturating_sub(urgent_at));
    Ok(Figures {
        messages: sent.len(),
        span,
        per_s,
        busiest,
        first_urgent,
    })
}

/// `first urgent       213 ms after publish`, or that it never came.
pub fn print_first_urgent(first_urgent: Option<Duration>) {
    match first_urgent {
        Some(d) => println!(
            "first urgent       {:.0} ms after publish",
            d.as_secs_f64() * 1000.0
        ),
        None => println!("first urgent       never delivered"),
    }
}
