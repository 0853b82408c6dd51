//! The command line the fan-out benches share:
//! `[--subscribers N] [--database-url URL] [--json]`.

use anyhow::{anyhow, Context, Result};

/// What one bench run is asked for.
pub struct Options {
    /// Residents the announcement goes to.
    pub subscribers: usize,
    /// PostgreSQL instead of a temporary SQLite file.
    pub database_url: Option<String>,
    /// One JSON object instead of the table.
    pub json: bool,
}

/// Reads the process's arguments; `subscribers` is the default count.
pub fn options(subscribers: usize) -> Result<Options> {
    let mut o = Options {
        subscribers,
        database_url: None,
        json: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--subscribers" => {
                o.subscribers = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .context("--subscribers needs a number above 0")?
            }
            "--database-url" => {
                o.database_url = Some(args.next().context("--database-url needs a URL")?)
            }
            "--json" => o.json = true,
            // cargo bench passes --bench to every bench target.
            "--bench" => {}
            other => {
                return Err(anyhow!(
                    "unknown argument {other}: use --subscribers N, --database-url URL, --json"
                ))
            }
        }
    }
    Ok(o)
}
