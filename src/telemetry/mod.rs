//! Logging with `tracing`, to stderr.
//!
//! Rule for every log call in Herold: ids, counts, states and pseudonyms
//! only — never an address, a token or message text. Domain types that hold
//! such data redact themselves in `Debug`, and every line passes through
//! [`redact`] on its way out, for what libraries write.

mod redact;

use std::io::IsTerminal;
use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{LogConfig, LogFormat};

/// Libraries whose informational logs carry personal data — matrix-sdk
/// names the room of each send and join, and a resident's direct room is
/// their address on Matrix. They log at `warn` and above only, unless the
/// filter names them explicitly (for debugging a homeserver, knowingly).
const CAPPED: &[&str] = &[
    "matrix_sdk",
    "matrix_sdk_base",
    "matrix_sdk_common",
    "matrix_sdk_crypto",
    "matrix_sdk_sqlite",
    "matrix_sdk_store_encryption",
    "ruma",
    "ruma_common",
    "ruma_client_api",
    "ruma_events",
];

/// Warnings of matrix-sdk that are expected in Herold's setup and would
/// only fill the log: the bot has no server-side key backup (its keys are
/// in `matrix.store_path`, which the operator backs up).
const QUIET: &[&str] = &["matrix_sdk_crypto::backups=error"];

/// The filter of `spec` (`RUST_LOG` or the configured one), with [`CAPPED`]
/// added where it does not name them.
fn filter(spec: &str) -> EnvFilter {
    let mut filter = EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"));
    for directive in QUIET {
        let target = directive.split('=').next().unwrap_or_default();
        if !spec.contains(target) {
            if let Ok(d) = directive.parse() {
                filter = filter.add_directive(d);
            }
        }
    }
    for target in CAPPED {
        let named = spec
            .split(',')
            .any(|d| d.trim().split(['=', '[']).next() == Some(*target));
        if !named {
            if let Ok(d) = format!("{target}=warn").parse() {
                filter = filter.add_directive(d);
            }
        }
    }
    filter
}

/// Installs the global subscriber. `RUST_LOG` overrides the configured filter.
pub fn init(cfg: &LogConfig) {
    let spec = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| EnvFilter::try_new(s).is_ok())
        .unwrap_or_else(|| cfg.filter.clone());
    let filter = filter(&spec);
    let builder = fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(redact::Redacting(std::io::stderr));
    // A second init (tests) is harmless, so its error is ignored.
    let _ = match cfg.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_sdk_is_capped_unless_named() {
        let f = filter("info").to_string();
        assert!(f.contains("matrix_sdk=warn"), "{f}");
        assert!(f.contains("ruma=warn"), "{f}");
        let f = filter("info,matrix_sdk=debug").to_string();
        assert!(
            f.contains("matrix_sdk=debug") && !f.contains("matrix_sdk=warn"),
            "{f}"
        );
        assert!(f.contains("matrix_sdk_crypto=warn"), "{f}");
    }
}
