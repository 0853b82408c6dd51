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

/// Reads [`PROVIDER_VAR`] and [`SECRET_VAR`]; in a build without the
/// `testing` feature, either being set is an error.
pub fn from_env() -> Result<FakeSelection, SelectError> {
    select(
        std::env::var(PROVIDER_VAR).ok(),
        std::env::var(SECRET_VAR).ok(),
        cfg!(feature = "testing"),
    )
}

/// What the variables ask for, where fakes may be used (`enabled`) or not.
/// Without fakes the variables are refused rather than ignored, so nobody
/// believes they work.
fn select(
    provider: Option<String>,
    secret: Option<String>,
    enabled: bool,
) -> Result<FakeSelection, SelectError> {
    if !enabled {
        return match (provider, secret) {
            (Some(_), _) => Err(SelectError::NotInThisBuild(PROVIDER_VAR)),
            (_, Some(_)) => Err(SelectError::NotInThisBuild(SECRET_VAR)),
            (None, None) => Ok(FakeSelection::default()),
        };
    }
    let provider = match provider.as_deref() {
        None | Some("") => None,
        Some("memory") => Some(Provider::Memory),
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Some(Provider::Http(url.to_owned()))
        }
        Some(other) => return Err(SelectError::Invalid(other.to_owned())),
    };
    Ok(FakeSelection {
        provider,
        webhook_secret: secret.filter(|s| !s.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_where_there_are_no_fakes() {
        let err = select(Some("memory".into()), None, false).unwrap_err();
        assert_eq!(err, SelectError::NotInThisBuild(PROVIDER_VAR));
        assert!(err.to_string().contains("only in test builds"));
        assert_eq!(
            select(None, Some("k".into()), false),
            Err(SelectError::NotInThisBuild(SECRET_VAR))
        );
        assert_eq!(select(None, None, false), Ok(FakeSelection::default()));
    }

    #[test]
    fn chosen_in_test_builds() {
        assert_eq!(
            select(Some("memory".into()), Some("k".into()), true),
            Ok(FakeSelection {
                provider: Some(Provider::Memory),
                webhook_secret: Some("k".into())
            })
        );
        assert_eq!(
            select(Some("http://127.0.0.1:9".into()), None, true)
                .unwrap()
                .provider,
            Some(Provider::Http("http://127.0.0.1:9".into()))
        );
        assert!(matches!(
            select(Some("smtp://x".into()), None, true),
            Err(SelectError::Invalid(_))
        ));
    }
}
