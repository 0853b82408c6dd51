//! The channel adapters of one installation: one instance per configured
//! channel, each built by its own crate from its own configuration section.
//!
//! Everything else — the engine, the web layer (webhooks, sign-up mails),
//! the services — asks the registry for an adapter by kind or by
//! capability and never names a concrete channel. Adding a channel adds one
//! arm to [`build`] (see docs/architecture.md, "Adding a channel").

use herold_channel_api::{
    Channel, ChannelKind, InboundParser, InboundPoller, InboundVerifier, RateLimit,
};
use herold_channel_fake::FakeSelection;
use std::{collections::BTreeMap, sync::Arc};
use thiserror::Error;

use crate::config::Config;

/// A channel's webhook: who checks a request's signature and who reads it.
#[derive(Clone)]
pub struct Webhook {
    pub verifier: Arc<dyn InboundVerifier>,
    pub parser: Arc<dyn InboundParser>,
}

/// One configured channel.
#[derive(Clone)]
pub struct Adapter {
    pub channel: Arc<dyn Channel>,
    /// Its webhook, if the provider calls Herold.
    pub webhook: Option<Webhook>,
    /// Its poller, if Herold fetches the channel's inbound events itself
    /// (never together with a webhook).
    pub poller: Option<Arc<dyn InboundPoller>>,
}

/// Why the configured channels cannot be built.
#[derive(Debug, Error)]
pub enum RegistryError {
    /// A channel is listed but cannot be served (missing section, no adapter).
    #[error("{0}")]
    NoAdapter(String),
    /// A channel's own section is invalid (the message names the key).
    #[error("{0}")]
    Invalid(String),
    /// Fake providers were asked for where there are none.
    #[error(transparent)]
    Fake(#[from] herold_channel_fake::SelectError),
}

/// The adapters, by kind.
#[derive(Clone, Default)]
pub struct Registry {
    adapters: BTreeMap<ChannelKind, Adapter>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.adapters.keys()).finish()
    }
}

impl Registry {
    /// Builds every channel of `delivery.channels`, and every channel whose
    /// section is configured (e-mail sign-up works without delivering
    /// announcements by e-mail). Nothing connects yet.
    pub fn from_config(config: &Config) -> Result<Self, RegistryError> {
        let fake = herold_channel_fake::from_env()?;
        let mut kinds: Vec<ChannelKind> = config.delivery.channels.clone();
        kinds.extend(configured_sections(config));
        kinds.sort();
        kinds.dedup();
        let mut adapters = BTreeMap::new();
        for kind in kinds {
            let adapter = match fake_adapter(&fake, kind, config) {
                Some(adapter) => adapter,
                None => build(kind, config)?,
            };
            adapters.insert(kind, adapter);
        }
        Ok(Self { adapters })
    }

    /// A registry of ready-made adapters (tests and `herold bench`).
    pub fn from_channels(channels: impl IntoIterator<Item = Arc<dyn Channel>>) -> Self {
        Self {
            adapters: channels
                .into_iter()
                .map(|channel| {
                    (
                        channel.kind(),
                        Adapter {
                            channel,
                            webhook: None,
                            poller: None,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The adapter of `kind`, if configured.
    pub fn get(&self, kind: ChannelKind) -> Option<&Arc<dyn Channel>> {
        self.adapters.get(&kind).map(|a| &a.channel)
    }

    /// The webhook of `kind`, if that channel has one.
    pub fn webhook(&self, kind: ChannelKind) -> Option<&Webhook> {
        self.adapters.get(&kind).and_then(|a| a.webhook.as_ref())
    }

    /// The poller of `kind`, if Herold polls that channel.
    pub fn poller(&self, kind: ChannelKind) -> Option<&Arc<dyn InboundPoller>> {
        self.adapters.get(&kind).and_then(|a| a.poller.as_ref())
    }

    /// Every channel Herold polls, with its poller.
    pub fn pollers(&self) -> impl Iterator<Item = (ChannelKind, &Arc<dyn InboundPoller>)> {
        self.adapters
            .iter()
            .filter_map(|(k, a)| a.poller.as_ref().map(|p| (*k, p)))
    }

    /// Every adapter.
    pub fn channels(&self) -> impl Iterator<Item = &Arc<dyn Channel>> {
        self.adapters.values().map(|a| &a.channel)
    }

    /// Each channel's public follow routes ([`Channel::follow_routes`]).
    pub fn follow_routes(&self) -> crate::service::FollowRoutes {
        self.adapters
            .iter()
            .map(|(kind, a)| (*kind, a.channel.follow_routes()))
            .filter(|(_, routes)| !routes.is_empty())
            .collect()
    }

    /// The adapters the engine delivers announcements on.
    pub fn delivering(&self, kinds: &[ChannelKind]) -> Vec<Arc<dyn Channel>> {
        kinds.iter().filter_map(|k| self.get(*k).cloned()).collect()
    }

    /// The channel residents sign up for on the web form, by address with a
    /// confirmation link: the one whose messages carry per-recipient
    /// unsubscribe links (they cannot leave with a command).
    pub fn link_signup(&self) -> Option<&Arc<dyn Channel>> {
        self.channels().find(|c| c.capabilities().unsubscribe_links)
    }
}

/// The channels whose own configuration section is present.
fn configured_sections(config: &Config) -> Vec<ChannelKind> {
    let mut out = Vec::new();
    if config.email.is_some() {
        out.push(ChannelKind::Email);
    }
    if config.telegram.is_some() {
        out.push(ChannelKind::Telegram);
    }
    if config.matrix.is_some() {
        out.push(ChannelKind::Matrix);
    }
    if config.whatsapp.is_some() {
        out.push(ChannelKind::WhatsApp);
    }
    out
}

/// The fake provider standing in for `kind`, with the fake's signed status
/// webhook if a secret is given — only in builds with the `fake-providers`
/// feature (the test script's).
#[cfg(feature = "fake-providers")]
fn fake_adapter(fake: &FakeSelection, kind: ChannelKind, config: &Config) -> Option<Adapter> {
    let provider = fake.provider.as_ref()?;
    let webhook = fake.webhook_secret.as_ref().map(|secret| {
        let hook = Arc::new(herold_channel_fake::FakeWebhook::new(secret.as_bytes()));
        Webhook {
            verifier: hook.clone(),
            parser: hook,
        }
    });
    Some(Adapter {
        channel: herold_channel_fake::adapter(provider, kind, fake_rate(config, kind)),
        webhook,
        poller: None,
    })
}

/// Without the `fake-providers` feature there are none: `from_env` has
/// already refused the variables, and this build contains no way to
/// construct a fake for `serve` or `worker`.
#[cfg(not(feature = "fake-providers"))]
fn fake_adapter(_: &FakeSelection, _: ChannelKind, _: &Config) -> Option<Adapter> {
    None
}

/// One adapter, with its webhook if the provider calls Herold, from the
/// channel's crate and its configuration section: one arm per channel.
fn build(kind: ChannelKind, config: &Config) -> Result<Adapter, RegistryError> {
    let missing = |section: &str| {
        RegistryError::NoAdapter(format!(
            "delivery.channels lists {kind}, but there is no [{section}] section: add it (see README, \"Channels\") or remove {kind} from delivery.channels"
        ))
    };
    match kind {
        ChannelKind::Email => {
            let cfg = config.email.clone().ok_or_else(|| missing("email"))?;
            let channel = herold_channel_email::EmailChannel::new(cfg)
                .map_err(|e| RegistryError::Invalid(e.to_string()))?;
            // Bounces arrive as SMTP replies at send time: no webhook.
            Ok(Adapter {
                channel: Arc::new(channel),
                webhook: None,
                poller: None,
            })
        }
        ChannelKind::Telegram => {
            let cfg = config.telegram.clone().ok_or_else(|| missing("telegram"))?;
            let invalid = |e: herold_channel_telegram::ConfigError| RegistryError::Invalid(e.to_string());
            // Updates come one way only (telegram.mode): long polling when
            // there is no https public_url and webhook secret (or when
            // asked for), else the webhook. Without a secret Herold cannot
            // tell Telegram's requests from anyone's, so no webhook then.
            let (webhook, poller) = if cfg.receives_by_polling(config.public_url.scheme() == "https") {
                let poller = herold_channel_telegram::TelegramPoller::new(&cfg).map_err(invalid)?;
                (None, Some(Arc::new(poller) as Arc<dyn InboundPoller>))
            } else {
                let webhook = cfg.webhook_secret.as_ref().map(|secret| {
                    let hook =
                        Arc::new(herold_channel_telegram::TelegramWebhook::new(secret.clone()));
                    Webhook {
                        verifier: hook.clone(),
                        parser: hook,
                    }
                });
                (webhook, None)
            };
            let channel = herold_channel_telegram::TelegramChannel::new(cfg).map_err(invalid)?;
            Ok(Adapter {
                channel: Arc::new(channel),
                webhook,
                poller,
            })
        }
        ChannelKind::Matrix => {
            let cfg = config.matrix.clone().ok_or_else(|| missing("matrix"))?;
            // Built without connecting: the first send or poll logs in (or
            // restores the session in matrix.store_path). Residents'
            // messages come by syncing, in the core's polling loop.
            let channel = herold_channel_matrix::MatrixChannel::new(cfg)
                .map_err(|e| RegistryError::Invalid(e.to_string()))?;
            let poller = Arc::new(channel.poller()) as Arc<dyn InboundPoller>;
            Ok(Adapter {
                channel: Arc::new(channel),
                webhook: None,
                poller: Some(poller),
            })
        }
        ChannelKind::WhatsApp => {
            let cfg = config.whatsapp.clone().ok_or_else(|| missing("whatsapp"))?;
            let invalid = |e: herold_channel_whatsapp::ConfigError| RegistryError::Invalid(e.to_string());
            // Meta calls {public_url}webhooks/whatsapp with messages and
            // statuses, signed with the app secret.
            let hook = Arc::new(cfg.webhook().map_err(invalid)?);
            let channel = herold_channel_whatsapp::WhatsAppChannel::new(cfg).map_err(invalid)?;
            Ok(Adapter {
                channel: Arc::new(channel),
                webhook: Some(Webhook {
                    verifier: hook.clone(),
                    parser: hook,
                }),
                poller: None,
            })
        }
        other => Err(RegistryError::NoAdapter(format!(
            "delivery.channels lists {other}, but Herold has no {other} adapter yet: remove it from delivery.channels"
        ))),
    }
}

/// The fakes (of tests and `herold bench`) accept what the configuration
/// allows the channel (its `delivery.rates` entry), or 1,000 messages per
/// second.
pub(crate) fn fake_rate(config: &Config, kind: ChannelKind) -> RateLimit {
    config
        .delivery
        .rates
        .get(&kind)
        .map_or(RateLimit::new(1000.0, 1000), |r| {
            RateLimit::new(r.per_second, r.burst)
        })
}
