//! Charts for the staff statistics, drawn on the server as inline SVG: a
//! line chart (values over time) and a grouped bar chart (values per item
//! and series). Every chart is shown beside a table with the same numbers,
//! so the SVG is decorative for screen readers (`aria-hidden`).
//!
//! Written by hand: two small chart kinds with plain `<polyline>` and
//! `<rect>` elements; plotting crates (plotters) need a font back-end to
//! lay out text and produce far larger documents for the same picture.

use std::fmt::Write;

/// One named series of values.
pub struct Series<'a> {
    pub name: &'a str,
    pub values: &'a [i64],
}

/// Colours that stay apart for the common colour-vision deficiencies
/// (Okabe–Ito) and have at least 3:1 contrast on white.
const COLOURS: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#8a6d00", "#56595c", "#A6442A",
];

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 56.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round upper bound for the axis and its step (1, 2 or 5 × 10^k).
fn scale(max: i64) -> (i64, i64) {
    let max = max.max(1);
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            let s = step * m;
            if max <= s * 4 {
                return (s * (max + s - 1).div_euclid(s), s);
            }
        }
        step *= 10;
    }
}

// Counts of residents stay far below 2^52: `as f64` is exact.
#[allow(clippy::cast_precision_loss)]
/// The frame, the horizontal grid with its labels and the legend.
fn frame(out: &mut String, top: i64, step: i64, series: &[&str]) {
    let plot_h = HEIGHT - TOP - BOTTOM;
    let mut v = 0;
    while v <= top {
        let y = TOP + plot_h - plot_h * (v as f64) / (top as f64);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{x2}" y2="{y:.1}" stroke="#ccc"/><text x="{tx}" y="{ty:.1}" text-anchor="end" font-size="11">{v}</text>"##,
            x2 = WIDTH - RIGHT,
            tx = LEFT - 4.0,
            ty = y + 4.0,
        );
        v += step;
    }
    for (i, name) in series.iter().enumerate() {
        let x = LEFT + 130.0 * (i as f64);
        let y = HEIGHT - 12.0;
        let _ = write!(
            out,
            r#"<rect x="{x}" y="{ry}" width="12" height="12" fill="{c}"/><text x="{tx}" y="{y}" font-size="12">{n}</text>"#,
            ry = y - 10.0,
            c = COLOURS[i % COLOURS.len()],
            tx = x + 16.0,
            n = escape(name),
        );
    }
}

fn open(out: &mut String) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" aria-hidden="true" focusable="false" font-family="system-ui, sans-serif">"#
    );
}

#[allow(clippy::cast_precision_loss)]
/// Values over time: one line per series, `labels` along the x axis (one
/// per value; every other one is written when they are many).
pub fn line_chart(labels: &[String], series: &[Series<'_>]) -> String {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    let (top, step) = scale(max);
    let mut out = String::new();
    open(&mut out);
    let names: Vec<&str> = series.iter().map(|s| s.name).collect();
    frame(&mut out, top, step, &names);
    let n = labels.len().max(2);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |i: usize| LEFT + plot_w * (i as f64) / ((n - 1) as f64);
    let y = |v: i64| TOP + plot_h - plot_h * (v as f64) / (top as f64);
    let every = labels.len().div_ceil(8).max(1);
    for (i, l) in labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"#,
            x(i),
            HEIGHT - BOTTOM + 16.0,
            escape(l)
        );
    }
    for (si, s) in series.iter().enumerate() {
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            out,
            r#"<polyline fill="none" stroke="{}" stroke-width="2.5" points="{}"/>"#,
            COLOURS[si % COLOURS.len()],
            points.join(" ")
        );
    }
    out.push_str("</svg>");
    out
}

#[allow(clippy::cast_precision_loss)]
/// Values per item: for each of `labels` one bar per series.
pub fn bar_chart(labels: &[String], series: &[Series<'_>]) -> String {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    let (top, step) = scale(max);
    let mut out = String::new();
    open(&mut out);
    let names: Vec<&str> = series.iter().map(|s| s.name).collect();
    frame(&mut out, top, step, &names);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let group = plot_w / (labels.len().max(1) as f64);
    let bar = (group * 0.8) / (series.len().max(1) as f64);
    for (li, label) in labels.iter().enumerate() {
        let gx = LEFT + group * (li as f64) + group * 0.1;
        for (si, s) in series.iter().enumerate() {
            let v = s.values.get(li).copied().unwrap_or(0);
            let h = plot_h * (v as f64) / (top as f64);
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"/>"#,
                gx + bar * (si as f64),
                TOP + plot_h - h,
                bar.max(1.0),
                h,
                COLOURS[si % COLOURS.len()]
            );
        }
        let short: String = label.chars().take(14).collect();
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"#,
            gx + group * 0.4,
            HEIGHT - BOTTOM + 16.0,
            escape(&short)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_axes() {
        assert_eq!(scale(0), (1, 1));
        assert_eq!(scale(7), (8, 2));
        assert_eq!(scale(37), (40, 10));
        assert_eq!(scale(100_000), (100_000, 50_000));
    }

    #[test]
    fn charts_escape_names_and_draw_every_series() {
        let labels = vec!["KW 1".to_owned(), "KW 2".to_owned(), "KW 3".to_owned()];
        let svg = line_chart(
            &labels,
            &[
                Series {
                    name: "E-Mail <x>",
                    values: &[1, 2, 3],
                },
                Series {
                    name: "Telegram",
                    values: &[0, 5, 9],
                },
            ],
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("E-Mail &lt;x&gt;"));
        assert!(svg.contains("aria-hidden=\"true\""));
        let bars = bar_chart(
            &labels,
            &[Series {
                name: "Zugestellt",
                values: &[3, 0, 1],
            }],
        );
        assert_eq!(bars.matches("<rect").count(), 1 + 3);
    }
}
