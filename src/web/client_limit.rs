//! How many sign-ups one client may make per hour, so that nobody can use
//! the form to have the town's mail server send confirmation requests to
//! many addresses (which would also hurt its reputation with mail
//! providers). The per-address throttle in the service stops flooding one
//! address; this stops one sender flooding many.
//!
//! A client is its IP address, IPv6 by its /64 prefix (what one line or
//! device usually gets). Behind a reverse proxy the peer is the proxy, so
//! `signup.client_ip_header` names the header the proxy sets (e.g.
//! `X-Forwarded-For`, whose last entry is the one it appended), believed
//! only from the peers in `signup.trusted_proxies`. Counts are
//! kept in memory per process by `governor`'s keyed limiter.

use std::{
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    time::Duration,
};

use actix_web::HttpRequest;
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::{SignupConfig, TrustedProxy};

/// Above this many remembered clients, those that are back to a full quota
/// are forgotten.
const FORGET_ABOVE: usize = 10_000;

/// A per-client limit: of `POST /subscribe` and staff sign-ins
/// ([`ClientLimit::new`]), of `POST /websub` ([`ClientLimit::with_quota`]).
pub struct ClientLimit {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    header: Option<String>,
    trusted: Vec<TrustedProxy>,
}

impl ClientLimit {
    /// From `[signup]`: `max_per_client_per_hour` (0: no limit) and
    /// `client_ip_header`.
    pub fn new(config: &SignupConfig) -> Self {
        Self::with_quota(
            NonZeroU32::new(config.max_per_client_per_hour).map(Quota::per_hour),
            config,
        )
    }

    /// `quota` per client (`None`: no limit), clients told apart as
    /// `[signup]`'s `client_ip_header` and `trusted_proxies` say.
    pub fn with_quota(quota: Option<Quota>, config: &SignupConfig) -> Self {
        Self {
            limiter: quota.map(RateLimiter::keyed),
            header: config.client_ip_header.clone(),
            trusted: config.trusted_proxies.clone(),
        }
    }

    /// Counts a sign-up of the client that sent `req`; `Err` with the time
    /// to wait when it has used up its quota. Requests without a usable
    /// client address are not limited (they cannot be told apart).
    pub fn check(&self, req: &HttpRequest) -> Result<(), Duration> {
        let (Some(limiter), Some(client)) = (&self.limiter, self.client(req)) else {
            return Ok(());
        };
        if limiter.len() > FORGET_ABOVE {
            limiter.retain_recent();
        }
        limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }

    /// The client that sent `req` (see the module's notes).
    pub(super) fn client(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr().map(|a| a.ip());
        // The header counts only when a trusted proxy sent the request.
        let header = self
            .header
            .as_ref()
            .filter(|_| super::proxy::from_trusted_proxy(req, &self.trusted));
        let ip = match header {
            Some(name) => req
                .headers()
                .get_all(name.as_str())
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .last()
                .and_then(|v| v.trim().parse::<IpAddr>().ok())?,
            None => peer?,
        };
        Some(prefix(ip))
    }
}

/// IPv4 as is, IPv6 reduced to its /64 prefix.
fn prefix(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn config(n: u32, header: Option<&str>) -> SignupConfig {
        SignupConfig {
            max_per_client_per_hour: n,
            client_ip_header: header.map(str::to_owned),
            ..SignupConfig::default()
        }
    }

    #[test]
    fn quota_per_client() {
        let limit = ClientLimit::new(&config(2, None));
        let from = |ip: &str| {
            TestRequest::default()
                .peer_addr(format!("{ip}:4711").parse().unwrap())
                .to_http_request()
        };
        assert!(limit.check(&from("192.0.2.1")).is_ok());
        assert!(limit.check(&from("192.0.2.1")).is_ok());
        let wait = limit.check(&from("192.0.2.1")).unwrap_err();
        assert!(wait > Duration::from_secs(60), "{wait:?}");
        assert!(limit.check(&from("192.0.2.2")).is_ok());
        // One /64 is one client.
        assert!(limit.check(&from("[2001:db8:1:2::1]")).is_ok());
        assert!(limit.check(&from("[2001:db8:1:2::ffff]")).is_ok());
        assert!(limit.check(&from("[2001:db8:1:2:3::9]")).is_err());
        assert!(limit.check(&from("[2001:db8:1:3::1]")).is_ok());
    }

    #[test]
    fn behind_a_proxy_the_header_names_the_client() {
        let limit = ClientLimit::new(&config(1, Some("X-Forwarded-For")));
        let via_proxy = |xff: &str| {
            TestRequest::default()
                .peer_addr("127.0.0.1:4711".parse().unwrap())
                .insert_header(("X-Forwarded-For", xff))
                .to_http_request()
        };
        // The last entry is what the proxy appended; earlier ones are the
        // client's own claims.
        assert!(limit.check(&via_proxy("203.0.113.7")).is_ok());
        assert!(limit.check(&via_proxy("10.9.9.9, 203.0.113.7")).is_err());
        assert!(limit.check(&via_proxy("203.0.113.8")).is_ok());
        // From a peer that is no trusted proxy the header is ignored: the
        // peer itself is the client.
        let direct = |xff: &str| {
            TestRequest::default()
                .peer_addr("198.51.100.1:4711".parse().unwrap())
                .insert_header(("X-Forwarded-For", xff))
                .to_http_request()
        };
        assert!(limit.check(&direct("203.0.113.50")).is_ok());
        assert!(limit.check(&direct("203.0.113.51")).is_err());
    }

    #[test]
    fn zero_means_no_limit() {
        let limit = ClientLimit::new(&config(0, None));
        let req = TestRequest::default()
            .peer_addr("192.0.2.1:1".parse().unwrap())
            .to_http_request();
        for _ in 0..100 {
            assert!(limit.check(&req).is_ok());
        }
    }
}
