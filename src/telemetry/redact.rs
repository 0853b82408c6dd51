//! The log's last line of defence: whatever a library writes, e-mail
//! addresses, phone numbers and Matrix room and user ids are masked before
//! a line reaches stderr. Herold's own log calls carry none of them (ids,
//! counts, states and pseudonyms only), but libraries word their own
//! messages: matrix-sdk names the room an event handler failed for, at
//! `error`, and a resident's direct room is their address on Matrix.
//!
//! Written here because it is a few lines around `regex`: no crate wraps a
//! `tracing` writer this way.

use regex::Regex;
use std::{borrow::Cow, io, sync::LazyLock};
use tracing_subscriber::fmt::MakeWriter;

/// What is masked, leftmost first: e-mail addresses, phone numbers in
/// international form, Matrix ids with a server name (`!room:server`,
/// `@user:server`) and room ids without one (room version 12: `!` and a
/// 43-character hash).
const PATTERN: &str = concat!(
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    r"|\+[1-9][0-9]{8,14}\b",
    r"|[!@][A-Za-z0-9._=/+-]+:[A-Za-z0-9.-]+(?::[0-9]+)?",
    r"|![A-Za-z0-9_-]{16,}",
);

/// Stands in for what was masked.
pub const MASK: &str = "[redacted]";

static RE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(PATTERN).ok());

/// `text` with every address, phone number and Matrix id masked.
pub fn redact(text: &str) -> Cow<'_, str> {
    match RE.as_ref() {
        Some(re) => re.replace_all(text, MASK),
        None => Cow::Borrowed(text),
    }
}

/// A [`MakeWriter`] whose writers mask (see [`redact`]) what they pass on.
pub struct Redacting<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(self.0.make_writer())
    }
}

/// Masks each write before passing it on. `tracing-subscriber` writes an
/// event's formatted line in one call, so a value is never split.
pub struct RedactingWriter<W>(W);

impl<W: io::Write> io::Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_addresses_numbers_and_matrix_ids() {
        assert!(RE.is_some());
        let line = "ERROR matrix_sdk::sync: Can't call event handler, room not found \
                    room_id=\"!xakOyiVtQXwppnZUbvGtHPs5CTDY6kz0CbkKRQzFtpM\" \
                    old=\"!abcDEF:matrix.example.org\" user=@anna:localhost:8448 \
                    mail=anna.muster+news@example.org phone=+4915112345678";
        let out = redact(line);
        for gone in [
            "xakOy",
            "abcDEF",
            "anna:localhost",
            "anna.muster",
            "example.org",
            "4915112345678",
        ] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        assert_eq!(out.matches(MASK).count(), 5, "{out}");
    }

    #[test]
    fn leaves_ids_counts_and_times() {
        let line = "INFO herold::engine: batch done channel=email subscriber=42 sent=1000 \
                    at=2026-12-05T03:00:00+00:00 took=12ms version=0.1.0 done!";
        assert_eq!(redact(line), line);
    }

    #[test]
    fn writes_masked() {
        let mut out = Vec::new();
        let n = io::Write::write(&mut RedactingWriter(&mut out), b"to anna@example.org\n")
            .unwrap_or_default();
        assert_eq!(n, 20);
        assert_eq!(String::from_utf8_lossy(&out), format!("to {MASK}\n"));
    }
}
