//! The command line the benches share: counts named by each bench (the
//! fan-out benches: `--subscribers N`), `--database-url URL` and `--json`.
// Each bench uses part of this module.
#![allow(dead_code)]

use anyhow::{anyhow, Context, Result};

/// The arguments as read by [`parse`].
pub struct Parsed {
    /// Each count's flag and value (its default unless given).
    counts: Vec<(&'static str, u64)>,
    /// PostgreSQL instead of a temporary SQLite file.
    pub database_url: Option<String>,
    /// One JSON object instead of the table.
    pub json: bool,
}

impl Parsed {
    /// The value of a count named in [`parse`] (0 for any other flag).
    pub fn count(&self, flag: &str) -> u64 {
        self.counts
            .iter()
            .find(|(f, _)| *f == flag)
            .map_or(0, |(_, n)| *n)
    }
}

/// What one fan-out bench run is asked for.
pub struct Options {
    /// Residents the announcement goes to.
    pub subscribers: usize,
    pub database_url: Option<String>,
    pub json: bool,
}

/// The fan-out benches' command line; `subscribers` is the default count.
pub fn options(subscribers: usize) -> Result<Options> {
    let p = parse(&[("--subscribers", subscribers as u64)])?;
    Ok(Options {
        subscribers: usize::try_from(p.count("--subscribers"))?,
        database_url: p.database_url,
        json: p.json,
    })
}

/// Reads the process's arguments: each of `counts` (flag, default) takes a
/// number above 0.
pub fn parse(counts: &[(&'static str, u64)]) -> Result<Parsed> {
    let mut o = Parsed {
        counts: counts.to_vec(),
        database_url: None,
        json: false,
    };
    let usage = || {
        let mut u: Vec<String> = counts.iter().map(|(f, _)| format!("{f} N")).collect();
        u.extend(["--database-url URL".into(), "--json".into()]);
        u.join(", ")
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--database-url" => {
                o.database_url = Some(args.next().context("--database-url needs a URL")?)
            }
            "--json" => o.json = true,
            // cargo bench passes --bench to every bench target.
            "--bench" => {}
            flag => {
                let Some(slot) = o.counts.iter_mut().find(|(f, _)| *f == flag) else {
                    return Err(anyhow!("unknown argument {flag}: use {}", usage()));
                };
                slot.1 = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .with_context(|| format!("{flag} needs a number above 0"))?;
            }
        }
    }
    Ok(o)
}
