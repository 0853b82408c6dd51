//! What a server's log must never hold (docs/operations.md, "Logs"): a
//! secret from its configuration, a resident's address, or what residents
//! and staff wrote. Every [`super::server::Server`] checks its log when it
//! is dropped, so every path a test drives through `herold serve` is
//! covered; tests that know their residents' chat ids and message texts
//! name them too ([`super::server::Server::assert_log_private`]).

use regex::Regex;
use std::sync::OnceLock;

/// Environment keys whose values are secrets.
const SECRET_KEYS: &[&str] = &["TOKEN", "SECRET", "PASSWORD"];

/// Values shorter than this are not looked for (a `"1"` would be found in
/// any log).
const MIN_SECRET_LEN: usize = 8;

/// The secret values of a server's environment: every key naming a token,
/// secret or password, except paths to files holding one.
pub fn secrets(env: &[(String, String)]) -> Vec<String> {
    env.iter()
        .filter(|(k, _)| SECRET_KEYS.iter().any(|s| k.contains(s)))
        .filter(|(k, _)| !k.ends_with("_FILE") && !k.ends_with("_PATH"))
        .map(|(_, v)| v.clone())
        .filter(|v| v.len() >= MIN_SECRET_LEN)
        .collect()
}

fn patterns() -> &'static [(&'static str, Regex)] {
    static P: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    P.get_or_init(|| {
        [
            (
                "an e-mail address",
                r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
            ),
            ("a phone number", r"\+[1-9][0-9]{8,14}\b"),
        ]
        .into_iter()
        .map(|(what, re)| (what, Regex::new(re).unwrap()))
        .collect()
    })
}

/// What `log` holds that it must not: each finding names what it is and
/// the line it is on.
pub fn findings(log: &str, secrets: &[String], markers: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for line in log.lines() {
        for s in secrets {
            if line.contains(s.as_str()) {
                out.push(format!("a secret from the environment: {line}"));
            }
        }
        for m in markers.iter().filter(|m| !m.is_empty()) {
            if line.contains(m) {
                out.push(format!("{m:?}: {line}"));
            }
        }
        for (what, re) in patterns() {
            if let Some(found) = re.find(line) {
                out.push(format!("{what} ({}): {line}", found.as_str()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_it_must() {
        let env = vec![
            (
                "HEROLD_TELEGRAM__TOKEN".to_owned(),
                "123456:ABCdefGHI".to_owned(),
            ),
            (
                "HEROLD_SECRET_KEY_FILE".to_owned(),
                "/tmp/x/pg.key".to_owned(),
            ),
        ];
        let s = secrets(&env);
        assert_eq!(s, ["123456:ABCdefGHI"]);
        let log = "INFO sent to anna@example.org\nINFO phone +4915112345678 ok\n\
                   INFO token 123456:ABCdefGHI\nINFO Schlagloch\nINFO batch of 42, id 7\n";
        let f = findings(log, &s, &["Schlagloch"]);
        assert_eq!(f.len(), 4, "{f:?}");
        assert!(findings("INFO batch of 42 at 2026-12-05T03:00:00+00:00", &s, &[]).is_empty());
    }
}
