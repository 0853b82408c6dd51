//! The HTTP client for talking to subscribers.

use std::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;

use crate::net::is_public_ip;

/// The default `User-Agent`.
pub const USER_AGENT: &str = concat!("Herold-WebSub/", env!("CARGO_PKG_VERSION"));

/// Settings for [`build_client`]. Request timeouts are passed per call to
/// [`crate::verify_intent`] and [`crate::distribute`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Limit for establishing a connection (TCP and TLS). Default 5 s.
    pub connect_timeout: Duration,
    /// Sent as `User-Agent`. Default [`USER_AGENT`].
    pub user_agent: String,
    /// Allow connections to loopback, private and other non-public addresses.
    /// Default `false`: host names are resolved by a resolver that drops such
    /// addresses, so a callback cannot reach the internal network through DNS.
    /// Proxies from the environment are then not used either, since a proxy
    /// would resolve names itself. The connection goes only to the addresses
    /// that resolver checked, so a DNS answer that changes in between cannot
    /// redirect it. IP literals are not resolved; they are checked by
    /// [`crate::parse_hub_request`] and, before each delivery, by
    /// [`crate::check_callback`] instead.
    pub allow_private_networks: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            user_agent: USER_AGENT.to_owned(),
            allow_private_networks: false,
        }
    }
}

/// An HTTP client for verification and distribution: never follows redirects
/// (the spec treats every 3xx as failure, and a redirect could point anywhere)
/// and, unless allowed, refuses non-public addresses.
pub fn build_client(config: &ClientConfig) -> Result<reqwest::Client, reqwest::Error> {
    let builder = reqwest::Client::builder()
        .redirect(Policy::none())
        .connect_timeout(config.connect_timeout)
        .user_agent(config.user_agent.as_str());
    let builder = if config.allow_private_networks {
        builder
    } else {
        builder
            .no_proxy()
            .dns_resolver(Arc::new(PublicOnlyResolver))
    };
    builder.build()
}

/// Resolves with the system resolver and keeps only public addresses.
struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| Box::new(e) as Box<dyn Error + Send + Sync>)?;
            let public: Vec<SocketAddr> = all.filter(|a| is_public_ip(a.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(NonPublicHost) as Box<dyn Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// A host name resolved only to non-public addresses. The message does not
/// name the host: it ends up in logs and stored errors.
#[derive(Debug)]
pub(crate) struct NonPublicHost;

impl fmt::Display for NonPublicHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the host resolves to no public address")
    }
}

/// Whether `e` or one of its sources is [`NonPublicHost`].
pub(crate) fn is_non_public_host(e: &(dyn Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(e) = current {
        if e.is::<NonPublicHost>() {
            return true;
        }
        current = e.source();
    }
    false
}

impl Error for NonPublicHost {}
