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
    /// The proxies `client_ip_header` and the forwarded scheme and host
    /// (`Forwarded`, `X-Forwarded-Proto`/`-Host`) are believed from, as
    /// addresses or networks (`10.0.0.0/8`); from any other peer these
    /// headers are ignored (anyone can send them). Default: this host.
    pub trusted_proxies: Vec<TrustedProxy>,
}

/// A trusted reverse proxy: one address (`127.0.0.1`) or a network
/// (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrustedProxy(ipnet::IpNet);

impl TrustedProxy {
    /// Whether `ip` is this proxy (an IPv4-mapped IPv6 address as its IPv4
    /// address).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl From<std::net::IpAddr> for TrustedProxy {
    fn from(ip: std::net::IpAddr) -> Self {
        Self(ipnet::IpNet::from(ip))
    }
}

impl std::str::FromStr for TrustedProxy {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        s.parse::<ipnet::IpNet>()
            .map(|n| Self(n.trunc()))
            .or_else(|_| s.parse::<std::net::IpAddr>().map(Self::from))
            .map_err(|_| ConfigError::Invalid {
                key: "signup.trusted_proxies",
                value: s.chars().take(50).collect(),
                expected: "IP addresses or networks such as 127.0.0.1 or 10.0.0.0/8".into(),
            })
    }
}

impl TryFrom<String> for TrustedProxy {
    type Error = ConfigError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<TrustedProxy> for String {
    fn from(p: TrustedProxy) -> Self {
        match p.0.prefix_len() == p.0.max_prefix_len() {
            true => p.0.addr().to_string(),
            false => p.0.to_string(),
        }
    }
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
                std::net::IpAddr::from([127, 0, 0, 1]).into(),
                std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST).into(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let one: TrustedProxy = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")));
        assert!(one.contains(ip("::ffff:127.0.0.1")));
        assert!(!one.contains(ip("127.0.0.2")));
        let net: TrustedProxy = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.200.3.4")));
        assert!(!net.contains(ip("11.0.0.1")));
        let v6: TrustedProxy = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("fe80::1")));
        assert!("10.0.0.0/33".parse::<TrustedProxy>().is_err());
        assert!("proxy.local".parse::<TrustedProxy>().is_err());
        assert_eq!(String::from(one), "127.0.0.1");
        assert_eq!(String::from(net), "10.0.0.0/8");
        // Host bits of a network are dropped.
        assert_eq!(
            String::from("10.1.2.3/8".parse::<TrustedProxy>().unwrap()),
            "10.0.0.0/8"
        );
    }

    #[test]
    fn trusted_proxies_from_toml() {
        let c: SignupConfig =
            toml::from_str(r#"trusted_proxies = ["127.0.0.1", "10.0.0.0/8", "::1"]"#).unwrap();
        assert_eq!(c.trusted_proxies.len(), 3);
        assert!(c.trusted_proxies[1].contains(ip("10.9.9.9")));
        assert!(toml::from_str::<SignupConfig>(r#"trusted_proxies = ["x"]"#).is_err());
        let round = toml::to_string(&c).unwrap();
        assert!(round.contains(r#""10.0.0.0/8""#), "{round}");
    }
}
