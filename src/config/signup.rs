use serde::{Deserialize, Serialize};

use super::ConfigError;

/// E-mail sign-up with double opt-in (`[signup]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SignupConfig {
    /// How long a confirmation link works (hours).
    pub confirm_ttl_hours: u32,
    /// Repeated sign-ups of one address cause at most one mail per this
    /// many minutes.
    pub resend_after_minutes: u32,
    /// Confirmation mails one address gets at most in 7 days, however
    /// often it is entered.
    pub max_mails_per_week: u32,
    /// Sign-ups one client (IP address, IPv6 by /64) may make per hour;
    /// 0: no limit.
    pub max_per_client_per_hour: u32,
    /// Behind a reverse proxy: the header it puts the client's address in
    /// (e.g. `X-Forwarded-For`; its last entry counts). Unset: the TCP peer.
    pub client_ip_header: Option<String>,
    /// The proxies `client_ip_header` is believed from; from any other peer
    /// the header is ignored (anyone can send it). Default: this host.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for SignupConfig {
    fn default() -> Self {
        Self {
            confirm_ttl_hours: 48,
            resend_after_minutes: 10,
            max_mails_per_week: 3,
            max_per_client_per_hour: 20,
            client_ip_header: None,
            trusted_proxies: vec![
                std::net::IpAddr::from([127, 0, 0, 1]),
                std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            ],
        }
    }
}

impl SignupConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, v, min, max) in [
            ("signup.confirm_ttl_hours", self.confirm_ttl_hours, 1, 720),
            (
                "signup.resend_after_minutes",
                self.resend_after_minutes,
                0,
                1440,
            ),
            ("signup.max_mails_per_week", self.max_mails_per_week, 1, 50),
            (
                "signup.max_per_client_per_hour",
                self.max_per_client_per_hour,
                0,
                100_000,
            ),
        ] {
            if v < min || v > max {
                return Err(ConfigError::Invalid {
                    key,
                    value: v.to_string(),
                    expected: format!("a number from {min} to {max}"),
                });
            }
        }
        if let Some(h) = &self.client_ip_header {
            if h.is_empty() || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(ConfigError::Invalid {
                    key: "signup.client_ip_header",
                    value: h.chars().take(40).collect(),
                    expected: "an HTTP header name such as X-Forwarded-For".into(),
                });
            }
        }
        Ok(())
    }

    /// Lifetime of a confirmation link.
    pub fn confirm_ttl(&self) -> chrono::Duration {
        chrono::Duration::hours(i64::from(self.confirm_ttl_hours))
    }

    /// Minimum gap between sign-up mails to one address.
    pub fn resend_after(&self) -> chrono::Duration {
        chrono::Duration::minutes(i64::from(self.resend_after_minutes))
    }
}
