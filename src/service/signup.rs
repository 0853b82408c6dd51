//! E-mail sign-up with double opt-in, and the links every mail carries:
//! one-click unsubscribe and the manage page.
//!
//! The web layer turns the typed outcomes into pages and mails. Outcomes
//! that must not reveal whether an address is known (throttled, already
//! subscribed) are meant to be shown with the same neutral text. Tokens and
//! addresses are never logged; `Debug` of the outcomes hides them.

use chrono::{DateTime, Utc};
use herold_channel_api::ChannelKind;
use thiserror::Error;

use super::{Herold, ServiceError, CONSENT_WORDING_VERSION};
use crate::{
    domain::{
        check_email_address, is_token_shaped, Category, DomainError, EmailAddressError, Id,
        Pseudonym, Subscriber, SubscriberStatus, TokenPurpose,
    },
    storage::{MailPolicy, NewSubscriber, Renewal, StorageError, StoredToken},
};

/// Evidence of consent given on the sign-up form.
pub const EVIDENCE_WEB_FORM: &str = "web-form";
/// Evidence of a withdrawal through the one-click link.
pub const EVIDENCE_ONE_CLICK: &str = "one-click";

/// Locales residents can be written to in.
const LOCALES: [&str; 2] = ["de", "en"];

/// Why a sign-up or link action could not be carried out. Messages name
/// the field and what was expected, and never contain the address.
#[derive(Debug, Error)]
pub enum SignupError {
    /// The address is malformed.
    #[error("email is invalid: expected {expected}")]
    InvalidEmail { expected: &'static str },
    /// The part before the `@` has characters beyond ASCII: mail servers
    /// without SMTPUTF8 (RFC 6531), most of them, cannot deliver to it.
    #[error("email: the part before the @ may only use the letters a-z, digits and . _ - + (no umlauts or other accents): expected an address like name@example.org")]
    NonAsciiLocalPart,
    /// The address belongs to a disposable mail service.
    #[error("email uses a disposable (throw-away) mail service: expected a permanent address")]
    DisposableEmail,
    /// No category was chosen.
    #[error("categories must not be empty: choose at least one category")]
    NoCategories,
    /// A chosen category does not exist.
    #[error("categories: unknown category \"{slug}\": expected one of {known}")]
    UnknownCategory { slug: String, known: String },
    /// The locale is not one residents can be written to in.
    #[error("locale {value:?} is invalid: expected de or en")]
    InvalidLocale { value: String },
    /// The link's token is malformed, unknown, or belonged to an erased
    /// subscriber.
    #[error("token is unknown or no longer valid: expected the link from a recent mail")]
    UnknownToken,
    /// The subscription has ended, so its categories cannot be changed.
    #[error("the subscription has ended: sign up again to choose categories")]
    Ended,
    /// Another rule of the model.
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// Storage failed or refused.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Anything else that went wrong on Herold's side.
    #[error("{0}")]
    Internal(String),
}

impl From<ServiceError> for SignupError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::UnknownCategory { slug, known } => Self::UnknownCategory { slug, known },
            ServiceError::Invalid(e) => Self::Invalid(e),
            ServiceError::Storage(e) => Self::Storage(e),
            e => Self::Internal(e.to_string()),
        }
    }
}

/// The links for a subscriber's mails. `Debug` hides them (they carry the
/// manage token).
#[derive(Clone, PartialEq, Eq)]
pub struct ManageLinks {
    /// `{public_url}unsubscribe/{token}`: one click ends the subscription
    /// (also for `List-Unsubscribe`, RFC 8058).
    pub one_click: String,
    /// `{public_url}manage/{token}`: categories, unsubscribe, erasure.
    pub manage: String,
}

impl std::fmt::Debug for ManageLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ManageLinks(<redacted>)")
    }
}

/// What a sign-up request leads to. The page shows the same neutral text
/// for every variant, so nobody learns whether an address is known.
#[derive(Clone, PartialEq, Eq)]
pub enum SignupOutcome {
    /// Mail the confirmation link with `token` to `to`.
    SendConfirmation {
        /// The normalised address.
        to: String,
        token: String,
        token_id: Id,
        pseudonym: Pseudonym,
        locale: String,
        expires_at: DateTime<Utc>,
    },
    /// The address is subscribed already; its categories were left as
    /// they are. The caller may mail the manage links to `to`.
    AlreadySubscribed {
        to: String,
        pseudonym: Pseudonym,
        locale: String,
        links: ManageLinks,
    },
    /// A mail went to this address within `signup.resend_after_minutes`:
    /// send nothing, change nothing.
    Throttled,
}

impl std::fmt::Debug for SignupOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SendConfirmation {
                token_id,
                pseudonym,
                locale,
                expires_at,
                ..
            } => f
                .debug_struct("SendConfirmation")
                .field("to", &"<redacted>")
                .field("token", &"<redacted>")
                .field("token_id", token_id)
                .field("pseudonym", pseudonym)
                .field("locale", locale)
                .field("expires_at", expires_at)
                .finish(),
            Self::AlreadySubscribed {
                pseudonym, locale, ..
            } => f
                .debug_struct("AlreadySubscribed")
                .field("to", &"<redacted>")
                .field("pseudonym", pseudonym)
                .field("locale", locale)
                .finish_non_exhaustive(),
            Self::Throttled => f.write_str("Throttled"),
        }
    }
}

/// What following a confirmation link leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// The subscriber is active now.
    Confirmed(Subscriber),
    /// The link was used before (or the address is active anyway); nothing
    /// was recorded again.
    AlreadyConfirmed,
    /// The link is too old; sign up again for a new one.
    Expired,
    /// No such link (malformed, never issued, or withdrawn since).
    Unknown,
}

/// What following a one-click unsubscribe link leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsubscribeOutcome {
    /// The subscription ended now.
    Left(Subscriber),
    /// It had ended before; nothing was recorded again.
    AlreadyLeft,
    /// No such link.
    Unknown,
}

/// What the manage page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManageView {
    pub subscriber_id: Id,
    pub pseudonym: Pseudonym,
    pub status: SubscriberStatus,
    pub locale: String,
    /// The categories subscribed to, by slug.
    pub subscribed: Vec<Category>,
    /// Every category, by slug (for the choice).
    pub available: Vec<Category>,
}

impl Herold {
    fn mail_policy(&self, now: DateTime<Utc>) -> MailPolicy {
        MailPolicy {
            now,
            confirm_ttl: self.config.signup.confirm_ttl(),
            resend_after: self.config.signup.resend_after(),
            max_per_week: self.config.signup.max_mails_per_week,
        }
    }

    /// A resident asks for announcements on `channel` in `categories`, by
    /// the e-mail address `email`: `channel` is the one that signs residents
    /// up by address and confirmation link (the registry's link sign-up),
    /// whose residents are therefore addressed by e-mail. A new
    /// address becomes a pending subscriber (consent `given`, evidence
    /// `web-form`) with a confirmation token to mail; a pending or former
    /// one gets a new token (categories replaced) unless a mail went out
    /// within the resend window; an active one is left unchanged.
    pub fn request_subscription(
        &self,
        channel: ChannelKind,
        email: &str,
        categories: &[impl AsRef<str>],
        locale: &str,
        now: DateTime<Utc>,
    ) -> Result<SignupOutcome, SignupError> {
        let address = checked_address(email)?;
        if !LOCALES.contains(&locale) {
            return Err(SignupError::InvalidLocale {
                value: locale.chars().take(20).collect(),
            });
        }
        let category_ids: Vec<Id> = self.chosen_categories(categories)?;
        let policy = self.mail_policy(now);
        let existing = self.db.find_subscriber_by_address(channel, &address)?;
        let (subscriber, issued) = match existing {
            None => {
                let new = NewSubscriber {
                    channel,
                    address: address.clone(),
                    locale: locale.to_owned(),
                    status: SubscriberStatus::Pending,
                    category_ids,
                    wording_version: CONSENT_WORDING_VERSION.to_owned(),
                    evidence: Some(EVIDENCE_WEB_FORM.to_owned()),
                };
                let s = match self.db.insert_subscriber(&new) {
                    Ok(s) => s,
                    // The same address signed up a moment ago.
                    Err(StorageError::Conflict { .. }) => return Ok(SignupOutcome::Throttled),
                    Err(e) => return Err(e.into()),
                };
                let issued = self.db.issue_confirm_token(s.id, policy)?;
                (s, issued)
            }
            Some(s) if s.status == SubscriberStatus::Active => {
                let Some(token) = self.db.manage_token_for_mail(s.id, policy)? else {
                    return Ok(SignupOutcome::Throttled);
                };
                tracing::info!(subscriber = s.id, "sign-up of an active subscriber");
                return Ok(SignupOutcome::AlreadySubscribed {
                    to: address,
                    pseudonym: s.pseudonym,
                    locale: locale.to_owned(),
                    links: self.links_for(&token),
                });
            }
            Some(s) => {
                let issued = self.db.renew_signup(
                    &Renewal {
                        subscriber_id: s.id,
                        address: &address,
                        category_ids: &category_ids,
                        locale,
                        wording_version: CONSENT_WORDING_VERSION,
                        evidence: EVIDENCE_WEB_FORM,
                    },
                    policy,
                )?;
                (s, issued)
            }
        };
        let Some(issued) = issued else {
            return Ok(SignupOutcome::Throttled);
        };
        tracing::info!(
            subscriber = subscriber.id,
            token_id = issued.id,
            "confirmation issued"
        );
        Ok(SignupOutcome::SendConfirmation {
            to: address,
            token: issued.token,
            token_id: issued.id,
            pseudonym: subscriber.pseudonym,
            locale: locale.to_owned(),
            expires_at: issued.expires_at,
        })
    }

    /// Follows a confirmation link: a valid, unused token makes the
    /// subscriber active (consent `confirmed`, evidence naming the token's
    /// id) and is used up.
    pub fn confirm_subscription(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<ConfirmOutcome, SignupError> {
        let Some(t) = self.stored_token(TokenPurpose::Confirm, token)? else {
            return Ok(ConfirmOutcome::Unknown);
        };
        if t.used_at.is_some() {
            return Ok(ConfirmOutcome::AlreadyConfirmed);
        }
        if t.expires_at.is_some_and(|e| e <= now) {
            return Ok(ConfirmOutcome::Expired);
        }
        let subscriber = self.db.get_subscriber(t.subscriber_id)?;
        match subscriber.status {
            SubscriberStatus::Erased => return Ok(ConfirmOutcome::Unknown),
            SubscriberStatus::Active => {
                self.db.use_confirm_token(t.id, now)?;
                return Ok(ConfirmOutcome::AlreadyConfirmed);
            }
            SubscriberStatus::Pending | SubscriberStatus::Unsubscribed => {}
        }
        // Taking the token first makes two clicks at once confirm once.
        if !self.db.use_confirm_token(t.id, now)? {
            return Ok(ConfirmOutcome::AlreadyConfirmed);
        }
        let evidence = format!("confirm-token:{}", t.id);
        match self
            .db
            .confirm_subscriber(t.subscriber_id, CONSENT_WORDING_VERSION, Some(&evidence))
        {
            Ok(s) => {
                tracing::info!(subscriber = s.id, token_id = t.id, "subscription confirmed");
                Ok(ConfirmOutcome::Confirmed(s))
            }
            // Another link of the same subscriber confirmed in between.
            Err(StorageError::Refused(_))
                if self.db.get_subscriber(t.subscriber_id)?.status == SubscriberStatus::Active =>
            {
                Ok(ConfirmOutcome::AlreadyConfirmed)
            }
            Err(e) => {
                self.db.release_confirm_token(t.id)?;
                Err(e.into())
            }
        }
    }

    /// Follows a one-click unsubscribe link: the subscription ends with a
    /// `withdrawn` consent event (evidence `one-click`) and queued
    /// deliveries are skipped. Returns once no delivery to the subscriber
    /// is in flight any more ([`Herold::settle_after_stop`]), so nothing
    /// arrives after the answer. Idempotent.
    pub fn unsubscribe_by_token(
        &self,
        manage_token: &str,
        now: DateTime<Utc>,
    ) -> Result<UnsubscribeOutcome, SignupError> {
        let Some(t) = self.stored_token(TokenPurpose::Manage, manage_token)? else {
            return Ok(UnsubscribeOutcome::Unknown);
        };
        let subscriber = self.db.get_subscriber(t.subscriber_id)?;
        let outcome = match subscriber.status {
            SubscriberStatus::Erased => return Ok(UnsubscribeOutcome::Unknown),
            SubscriberStatus::Unsubscribed => UnsubscribeOutcome::AlreadyLeft,
            SubscriberStatus::Active | SubscriberStatus::Pending => {
                self.db.touch_token(t.id, now)?;
                match self.db.unsubscribe(
                    t.subscriber_id,
                    CONSENT_WORDING_VERSION,
                    Some(EVIDENCE_ONE_CLICK),
                ) {
                    Ok(s) => {
                        tracing::info!(subscriber = s.id, "unsubscribed by link");
                        UnsubscribeOutcome::Left(s)
                    }
                    // A second click at the same moment got there first.
                    Err(StorageError::Refused(_))
                        if self.db.get_subscriber(t.subscriber_id)?.status
                            == SubscriberStatus::Unsubscribed =>
                    {
                        UnsubscribeOutcome::AlreadyLeft
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        // "Already left" too: an earlier click may still be waiting.
        self.settle_after_stop(t.subscriber_id)?;
        Ok(outcome)
    }

    /// The manage page of the subscriber the token belongs to.
    pub fn manage_view(&self, manage_token: &str) -> Result<ManageView, SignupError> {
        let t = self.manage_token_row(manage_token)?;
        self.view_of(t.subscriber_id)
    }

    /// Replaces the categories from the manage page. A change is recorded
    /// as consent `given` for the new set (evidence naming the token id).
    pub fn set_categories(
        &self,
        manage_token: &str,
        slugs: &[impl AsRef<str>],
    ) -> Result<ManageView, SignupError> {
        let t = self.manage_token_row(manage_token)?;
        let ids = self.chosen_categories(slugs)?;
        let subscriber = self.db.get_subscriber(t.subscriber_id)?;
        if !matches!(
            subscriber.status,
            SubscriberStatus::Active | SubscriberStatus::Pending
        ) {
            return Err(SignupError::Ended);
        }
        let evidence = format!("manage-token:{}", t.id);
        if self
            .db
            .set_subscriptions(t.subscriber_id, &ids, CONSENT_WORDING_VERSION, &evidence)?
        {
            tracing::info!(subscriber = t.subscriber_id, "categories changed by link");
        }
        self.view_of(t.subscriber_id)
    }

    /// Erases the subscriber the token belongs to (address, pseudonym,
    /// subscriptions, links; the anonymised consent ledger stays). Returns
    /// once no delivery to them is in flight any more
    /// ([`Herold::settle_after_stop`]).
    pub fn erase_by_token(&self, manage_token: &str) -> Result<(), SignupError> {
        let t = self.manage_token_row(manage_token)?;
        self.erase(t.subscriber_id)?;
        tracing::info!(subscriber = t.subscriber_id, "erased by link");
        self.settle_after_stop(t.subscriber_id)?;
        Ok(())
    }

    /// The one-click unsubscribe and manage links for a subscriber's mails
    /// (the manage token is created on first use).
    pub fn manage_links(&self, subscriber_id: Id) -> Result<ManageLinks, SignupError> {
        let token = self.db.manage_token(subscriber_id)?;
        Ok(self.links_for(&token))
    }

    fn links_for(&self, token: &str) -> ManageLinks {
        ManageLinks {
            one_click: self.public_url(&format!("unsubscribe/{token}")),
            manage: self.public_url(&format!("manage/{token}")),
        }
    }

    /// The stored token, or `None` if malformed or unknown.
    pub(super) fn stored_token(
        &self,
        purpose: TokenPurpose,
        token: &str,
    ) -> Result<Option<StoredToken>, SignupError> {
        if !is_token_shaped(token) {
            return Ok(None);
        }
        Ok(self.db.find_token(purpose, token)?)
    }

    pub(super) fn manage_token_row(&self, token: &str) -> Result<StoredToken, SignupError> {
        self.stored_token(TokenPurpose::Manage, token)?
            .ok_or(SignupError::UnknownToken)
    }

    /// Ids of the chosen categories: at least one, each existing.
    fn chosen_categories(&self, slugs: &[impl AsRef<str>]) -> Result<Vec<Id>, SignupError> {
        let mut ids = Vec::new();
        for slug in slugs.iter().map(|s| s.as_ref().trim()) {
            if slug.is_empty() {
                continue;
            }
            let id = self.category(slug)?.id;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if ids.is_empty() {
            return Err(SignupError::NoCategories);
        }
        Ok(ids)
    }

    fn view_of(&self, subscriber_id: Id) -> Result<ManageView, SignupError> {
        let s = self.db.get_subscriber(subscriber_id)?;
        if s.status == SubscriberStatus::Erased {
            return Err(SignupError::UnknownToken);
        }
        let mine: Vec<Id> = self
            .db
            .subscriptions_of(subscriber_id)?
            .into_iter()
            .map(|x| x.category_id)
            .collect();
        let available = self.db.list_categories()?;
        let subscribed = available
            .iter()
            .filter(|c| mine.contains(&c.id))
            .cloned()
            .collect();
        Ok(ManageView {
            subscriber_id,
            pseudonym: s.pseudonym,
            status: s.status,
            locale: s.locale,
            subscribed,
            available,
        })
    }
}

/// The address typed into the sign-up form: an e-mail address, checked by
/// the domain's rules for addresses mail will reach.
fn checked_address(raw: &str) -> Result<String, SignupError> {
    check_email_address(raw).map_err(|e| match e {
        EmailAddressError::Invalid { expected } => SignupError::InvalidEmail { expected },
        EmailAddressError::NonAsciiLocalPart => SignupError::NonAsciiLocalPart,
        EmailAddressError::Disposable => SignupError::DisposableEmail,
    })
}
