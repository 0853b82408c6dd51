//! The data-protection officer's reports as CSV and HTML (JSON is their
//! serde form).

use askama::Template;

use crate::{domain::ConsentReport, i18n::Tr};

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
    for (version, count) in &report.wording_versions {
        w.write_record([
            "wording",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            &format!("{version}: {count}"),
        ])?;
    }
    w.write_record([
        "evidence",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        &format!("{} of {}", report.evidence_complete, report.evidence_total),
    ])?;
    for i in &report.incomplete {
        w.write_record([
            "incomplete",
            i.channel.as_str(),
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            &format!("{}: {}", i.pseudonym, i.missing),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
