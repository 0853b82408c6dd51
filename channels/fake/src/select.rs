//! Choosing a fake provider from the environment — in test builds only.

/// `memory` or the base URL of a [`crate::FakeServer`]: every push channel
/// of `delivery.channels` then delivers there instead of to its provider.
pub const PROVIDER_VAR: &str = "HEROLD_FAKE_PROVIDER";
/// The secret the fake provider signs its status webhooks with
/// (`POST /webhooks/{channel}`, see [`crate::FakeWebhook`]).
pub const SECRET_VAR: &str = "HEROLD_FAKE_PROVIDER_SECRET";

/// Which fake stands in for the push channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// [`crate::MemoryProvider`].
    Memory,
    /// [`crate::HttpProvider`] talking to this base URL.
    Http(String),
}

/// What the environment asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeSelection {
    /// The fake provider, if any.
    pub provider: Option<Provider>,
    /// The webhook secret, if any.
    pub webhook_secret: Option<String>,
}

/// Why the environment's choice cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// A variable is set in a build without fake providers.
    #[error("{0} is set, but this build of Herold has no fake providers (they exist only in test builds): unset it")]
    NotInThisBuild(&'static str),
    /// The provider variable has a value that names no fake.
    #[error("{PROVIDER_VAR} is {0:?}: expected \"memory\" or an http:// URL of a fake provider")]
    Invalid(String),
}

/// Reads [`PROVIDER_VAR`] and [`SECRET_VAR`].
#[cfg(feature = "testing")]
pub fn from_env() -> Result<FakeSelection, SelectError> {
    let provider = match std::env::var(PROVIDER_VAR).ok().as_deref() {
        None | Some("") => None,
        Some("memory") => Some(Provider::Memory),
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Some(Provider::Http(url.to_owned()))
        }
        Some(other) => return Err(SelectError::Invalid(other.to_owned())),
    };
    Ok(FakeSelection {
        provider,
        webhook_secret: std::env::var(SECRET_VAR).ok().filter(|s| !s.is_empty()),
    })
}

/// Without the `testing` feature there are no fakes to select: the
/// variables are refused rather than ignored, so nobody believes they work.
#[cfg(not(feature = "testing"))]
pub fn from_env() -> Result<FakeSelection, SelectError> {
    for var in [PROVIDER_VAR, SECRET_VAR] {
        if std::env::var_os(var).is_some() {
            return Err(SelectError::NotInThisBuild(var));
        }
    }
    Ok(FakeSelection::default())
}
