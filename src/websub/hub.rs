//! Subscription requests (`POST /websub`): checked at once, verified with the
//! subscriber in the background, stored only when verified.

use std::{collections::HashSet, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use herold_websub::{
    build_client, parse_hub_request, verify_intent, ClientConfig, HubPolicy, HubRequest,
    HubRequestError, Subscription, Transport, Verified, VerifyError,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use super::{blocking, content_mark, parse_topic, WebsubError};
use crate::{
    config::Config,
    service::Herold,
    storage::{NewWebsubSubscription, WebsubSubscription},
};

/// The request side of the hub; shared by all web workers.
pub struct Hub {
    client: reqwest::Client,
    policy: HubPolicy,
    timeout: Duration,
    slots: Arc<Semaphore>,
}

/// What a verification of intent led to.
#[derive(Debug)]
pub enum Applied {
    /// Created or renewed.
    Subscribed(WebsubSubscription),
    /// Deleted (`existed` is false if there was nothing to delete).
    Unsubscribed { existed: bool },
    /// The subscriber did not confirm; nothing changed.
    NotVerified(VerifyError),
}

impl Hub {
    /// A hub for `config.websub`.
    pub fn new(config: &Config) -> Result<Self, WebsubError> {
        let w = &config.websub;
        let client = build_client(&ClientConfig {
            allow_private_networks: w.allow_private_callbacks,
            ..ClientConfig::default()
        })
        .map_err(|e| WebsubError::Client(e.to_string()))?;
        Ok(Self {
            client,
            policy: w.policy(),
            timeout: w.timeout(),
            slots: Arc::new(Semaphore::new(w.max_pending_verifications as usize)),
        })
    }

    /// Checks a form-encoded request against Herold's feeds: `all` and the
    /// existing categories, as Atom, RSS or iCalendar; a new subscription
    /// also against the caps (`Err(WebsubError::Cap)`), which the store
    /// checks again. Blocking (reads the database).
    pub fn check(
        &self,
        app: &Herold,
        form: &[(String, String)],
        transport: Transport,
    ) -> Result<HubRequest, WebsubError> {
        let categories: HashSet<String> = app
            .db()
            .list_categories()?
            .into_iter()
            .map(|c| c.slug.to_string())
            .collect();
        let public = &app.config().public_url;
        let accepts = |topic: &Url| {
            parse_topic(public, topic)
                .is_some_and(|t| t.scope.category().is_none_or(|c| categories.contains(c)))
        };
        let request = parse_hub_request(form, &self.policy, &accepts, transport)?;
        if let HubRequest::Subscribe(sub) = &request {
            let probe = NewWebsubSubscription {
                topic: sub.topic.as_str(),
                callback: sub.callback.as_str(),
                secret: None,
                expires_at: Utc::now(),
                content_mark: "",
            };
            if let Some(cap) = app
                .db()
                .websub_cap_reached(&probe, &app.config().websub.caps())?
            {
                return Err(cap.into());
            }
        }
        Ok(request)
    }

    /// A slot for one background verification, or `None` while
    /// `websub.max_pending_verifications` are under way.
    pub fn reserve(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// Verifies `req` with the subscriber and, only if confirmed, stores it:
    /// subscribe creates or renews (new lease and secret), unsubscribe deletes.
    pub async fn verify_and_apply(
        &self,
        app: Arc<Herold>,
        req: HubRequest,
    ) -> Result<Applied, WebsubError> {
        let verified = match verify_intent(&self.client, &req, self.timeout).await {
            Ok(v) => v,
            Err(e) => return Ok(Applied::NotVerified(e)),
        };
        match (req, verified) {
            (HubRequest::Subscribe(sub), Verified::Subscribed { lease, .. }) => {
                blocking(move || store(&app, &sub, lease.expires_at))
                    .await
                    .map(Applied::Subscribed)
            }
            (HubRequest::Unsubscribe { topic, callback }, Verified::Unsubscribed { .. }) => {
                blocking(move || {
                    Ok(app
                        .db()
                        .delete_websub_subscription(topic.as_str(), callback.as_str())?)
                })
                .await
                .map(|existed| Applied::Unsubscribed { existed })
            }
            _ => Err(WebsubError::Task(
                "verification answered for a different mode".into(),
            )),
        }
    }

    /// [`Hub::verify_and_apply`] for a spawned task: logs the result (topic
    /// and subscription id, never the callback or secret).
    pub async fn verify_in_background(
        self: Arc<Self>,
        app: Arc<Herold>,
        req: HubRequest,
        _slot: OwnedSemaphorePermit,
    ) {
        let topic = req.topic().to_string();
        let mode = req.mode();
        match self.verify_and_apply(app, req).await {
            Ok(Applied::Subscribed(s)) => tracing::info!(
                subscription = s.id,
                %topic,
                expires_at = %s.expires_at,
                signed = s.has_secret,
                "websub subscription verified"
            ),
            Ok(Applied::Unsubscribed { existed }) => {
                tracing::info!(%topic, existed, "websub unsubscription verified")
            }
            Ok(Applied::NotVerified(e)) => tracing::info!(
                %topic,
                %mode,
                reason = verify_failure(&e),
                "websub request not verified; nothing changed"
            ),
            Err(WebsubError::Cap(cap)) => tracing::warn!(
                %topic,
                %mode,
                reason = %cap,
                "websub subscription verified but not stored: a cap is reached"
            ),
            Err(e) => tracing::error!(%topic, %mode, error = %e, "websub request failed"),
        }
    }
}

/// Creates or renews a verified subscription. A new one starts at the
/// topic's current state, so the next change is pushed; a renewal keeps
/// its state. A new one beyond a cap is not stored (`WebsubError::Cap`).
fn store(
    app: &Herold,
    sub: &Subscription,
    expires_at: DateTime<Utc>,
) -> Result<WebsubSubscription, WebsubError> {
    let topic = parse_topic(&app.config().public_url, &sub.topic).ok_or_else(|| {
        HubRequestError::UnknownTopic {
            topic: sub.topic.to_string(),
        }
    })?;
    let mark = content_mark(&topic.scope, &app.db().category_activity(Utc::now())?);
    let new = NewWebsubSubscription {
        topic: sub.topic.as_str(),
        callback: sub.callback.as_str(),
        secret: sub.secret.as_ref().map(|s| s.as_bytes()),
        expires_at,
        content_mark: &mark,
    };
    Ok(app
        .db()
        .upsert_websub_subscription_capped(&new, &app.config().websub.caps())??)
}

/// Why a verification failed, without the callback's address (connection
/// errors name the URL).
pub(super) fn verify_failure(e: &VerifyError) -> String {
    match e {
        VerifyError::Refused => "refused (404)".into(),
        VerifyError::Status { status } => format!("HTTP {status}"),
        VerifyError::WrongChallenge => "wrong challenge".into(),
        VerifyError::Timeout => "timeout".into(),
        VerifyError::Connection { .. } => "connection failed".into(),
        VerifyError::Redirected => "redirected".into(),
    }
}
