//! The data-protection officer's reports as CSV and HTML (JSON is their
//! serde form).

use askama::Template;

use crate::{
    domain::{ConsentReport, ParityKind, ParityReport, ProcessingRecord},
    i18n::Tr,
};

#[derive(Template)]
#[template(path = "reports/consent.html")]
struct ConsentPage<'a> {
    lang: &'a str,
    site: &'a str,
    t: Tr,
    period: String,
    evidence: String,
    report: &'a ConsentReport,
}

#[derive(Template)]
#[template(path = "reports/processing.html")]
struct ProcessingPage<'a> {
    lang: &'a str,
    t: Tr,
    generated: String,
    record: &'a ProcessingRecord,
}

/// The record of processing activities as a printable HTML page.
pub fn processing_html(record: &ProcessingRecord) -> Result<String, askama::Error> {
    ProcessingPage {
        lang: &record.locale,
        t: Tr::new(&record.locale),
        generated: record.generated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        record,
    }
    .render()
}

/// The consent report as a printable HTML page in `locale`.
pub fn consent_html(
    report: &ConsentReport,
    site: &str,
    locale: &str,
) -> Result<String, askama::Error> {
    let t = Tr::new(locale);
    let evidence = crate::i18n::t(
        locale,
        "report.consent.evidence_share",
        &[
            ("complete", &report.evidence_complete.to_string()),
            ("total", &report.evidence_total.to_string()),
            ("pct", &format!("{:.1}", report.evidence_share_pct())),
        ],
    );
    ConsentPage {
        lang: locale,
        site,
        period: format!(
            "{} – {}",
            report.from.format("%Y-%m-%d %H:%M UTC"),
            report.to.format("%Y-%m-%d %H:%M UTC")
        ),
        evidence,
        t,
        report,
    }
    .render()
}

/// The consent report as CSV: one row per channel (category empty) and
/// per channel and category, then one per consent wording, then one per
/// subscriber without complete evidence; the first column says which.
pub fn consent_csv(report: &ConsentReport) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "record",
        "channel",
        "category",
        "given",
        "confirmed",
        "withdrawn",
        "erased",
        "active_at_start",
        "active_at_end",
        "detail",
    ])?;
    let n = |v: u64| v.to_string();
    for c in &report.channels {
        let e = &c.events;
        w.write_record([
            "channel",
            c.channel.as_str(),
            "",
            &n(e.given),
            &n(e.confirmed),
            &n(e.withdrawn),
            &n(e.erased),
            &n(c.active_at_start),
            &n(c.active_at_end),
            "",
        ])?;
        for (category, e) in &c.by_category {
            w.write_record([
                "category",
                c.channel.as_str(),
                category,
                &n(e.given),
                &n(e.confirmed),
                &n(e.withdrawn),
                &n(e.erased),
                "",
                "",
                "",
            ])?;
        }
    }
    // Rows that carry only a detail: the counts' columns stay empty.
    let mut detail = |record: &str, channel: &str, text: String| {
        w.write_record([record, channel, "", "", "", "", "", "", "", &text])
    };
    for (version, count) in &report.wording_versions {
        detail("wording", "", format!("{version}: {count}"))?;
    }
    detail(
        "evidence",
        "",
        format!("{} of {}", report.evidence_complete, report.evidence_total),
    )?;
    for i in &report.incomplete {
        detail(
            "incomplete",
            i.channel.as_str(),
            format!("{}: {}", i.pseudonym, i.missing),
        )?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[derive(Template)]
#[template(path = "reports/parity.html")]
struct ParityPage<'a> {
    lang: &'a str,
    site: &'a str,
    t: Tr,
    period: String,
    threshold: String,
    report: &'a ParityReport,
}

fn kind_name(kind: &ParityKind) -> &'static str {
    match kind {
        ParityKind::Push => "push",
        ParityKind::Follow => "follow",
        ParityKind::Manual => "manual",
    }
}

/// The parity report as a printable HTML page in `locale`.
pub fn parity_html(
    report: &ParityReport,
    site: &str,
    locale: &str,
) -> Result<String, askama::Error> {
    ParityPage {
        lang: locale,
        site,
        t: Tr::new(locale),
        period: format!(
            "{} – {}",
            report.from.format("%Y-%m-%d %H:%M UTC"),
            report.to.format("%Y-%m-%d %H:%M UTC")
        ),
        threshold: crate::i18n::t(
            locale,
            "report.parity.threshold",
            &[("minutes", &report.gap_minutes.to_string())],
        ),
        report,
    }
    .render()
}

/// The parity report as CSV: one row per announcement and channel.
pub fn parity_csv(report: &ParityReport) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "announcement",
        "title",
        "published_at",
        "channel",
        "kind",
        "handed_over",
        "failed",
        "pending",
        "first",
        "last",
        "gap",
    ])?;
    let time =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    for a in &report.announcements {
        if a.channels.is_empty() {
            w.write_record([
                a.id.to_string().as_str(),
                &a.title,
                &a.published_at.to_rfc3339(),
                "",
                if a.in_digest { "digest" } else { "" },
                "",
                "",
                "",
                "",
                "",
                "",
            ])?;
        }
        for c in &a.channels {
            w.write_record([
                a.id.to_string().as_str(),
                &a.title,
                &a.published_at.to_rfc3339(),
                &c.channel,
                kind_name(&c.kind),
                &c.handed_over.to_string(),
                &c.failed.to_string(),
                &c.pending.to_string(),
                &time(c.first),
                &time(c.last),
                c.gap.as_deref().unwrap_or(""),
            ])?;
        }
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
