//! Tokens of the links mailed to subscribers, and the sign-up steps that
//! must happen in one transaction with them. Tokens are stored as the
//! keyring's keyed hash; manage tokens also encrypted, because the engine
//! puts the same link into every message.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use super::{
    category_slugs,
    error::OrNotFound,
    schema::{consent_events, subscriber_tokens, subscribers, subscriptions},
    sealed, time, with_conn, with_write_tx, Database, StorageError,
};
use crate::domain::{new_token, ConsentKind, Id, SubscriberStatus, TokenPurpose};

/// Hash domain of link tokens (separate from address lookups).
const HASH_DOMAIN: &str = "subscriber-token";

#[derive(Queryable, Selectable)]
#[diesel(table_name = subscriber_tokens)]
struct Row {
    id: i64,
    subscriber_id: i64,
    purpose: String,
    created_at: chrono::NaiveDateTime,
    expires_at: Option<chrono::NaiveDateTime>,
    used_at: Option<chrono::NaiveDateTime>,
    mailed_at: Option<chrono::NaiveDateTime>,
}

/// A stored token, without the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub id: Id,
    pub subscriber_id: Id,
    pub purpose: TokenPurpose,
    pub created_at: DateTime<Utc>,
    /// Confirm tokens only.
    pub expires_at: Option<DateTime<Utc>>,
    /// Confirm: when it was used (once). Manage: when it was last used.
    pub used_at: Option<DateTime<Utc>>,
    /// When a sign-up request last caused a mail with this token.
    pub mailed_at: Option<DateTime<Utc>>,
}

impl TryFrom<Row> for StoredToken {
    type Error = StorageError;
    fn try_from(r: Row) -> Result<Self, StorageError> {
        Ok(StoredToken {
            id: r.id,
            subscriber_id: r.subscriber_id,
            purpose: TokenPurpose::parse(&r.purpose)?,
            created_at: time::from_db(r.created_at),
            expires_at: time::from_db_opt(r.expires_at),
            used_at: time::from_db_opt(r.used_at),
            mailed_at: time::from_db_opt(r.mailed_at),
        })
    }
}

/// A freshly issued confirm token. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub id: Id,
    /// The secret for the link; exists only here and in the mail.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("id", &self.id)
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// How often a sign-up may cause a mail, and how long confirm links live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailPolicy {
    pub now: DateTime<Utc>,
    /// Lifetime of a confirm token.
    pub confirm_ttl: Duration,
    /// No new mail while the last one is younger than this.
    pub resend_after: Duration,
    /// At most this many confirmation mails to one address in 7 days.
    pub max_per_week: u32,
}

/// A repeated sign-up of a pending or former subscriber.
#[derive(Debug, Clone)]
pub struct Renewal<'a> {
    pub subscriber_id: Id,
    /// The address they signed up with (stored again: a former
    /// subscriber's address was forgotten).
    pub address: &'a str,
    pub category_ids: &'a [Id],
    pub locale: &'a str,
    pub wording_version: &'a str,
    pub evidence: &'a str,
}

/// Inserts a confirm token for `$sub` unless one was mailed within the
/// resend window or the week's mails are used up; evaluates to `Option<IssuedToken>`. A macro for the same
/// reason as `with_conn!`.
macro_rules! issue_confirm {
    ($db:expr, $c:expr, $sub:expr, $policy:expr) => {{
        let now = time::to_db($policy.now);
        let since = time::to_db($policy.now - $policy.resend_after);
        let recent: i64 = subscriber_tokens::table
            .filter(subscriber_tokens::subscriber_id.eq($sub))
            .filter(subscriber_tokens::purpose.eq(TokenPurpose::Confirm.as_str()))
            .filter(subscriber_tokens::mailed_at.gt(since))
            .count()
            .get_result($c)?;
        let week = time::to_db($policy.now - Duration::days(7));
        let this_week: i64 = subscriber_tokens::table
            .filter(subscriber_tokens::subscriber_id.eq($sub))
            .filter(subscriber_tokens::purpose.eq(TokenPurpose::Confirm.as_str()))
            .filter(subscriber_tokens::mailed_at.is_not_null())
            .filter(subscriber_tokens::created_at.gt(week))
            .count()
            .get_result($c)?;
        if recent > 0 || this_week >= i64::from($policy.max_per_week) {
            None
        } else {
            let token = new_token();
            let expires = $policy.now + $policy.confirm_ttl;
            let id: i64 = diesel::insert_into(subscriber_tokens::table)
                .values((
                    subscriber_tokens::subscriber_id.eq($sub),
                    subscriber_tokens::purpose.eq(TokenPurpose::Confirm.as_str()),
                    subscriber_tokens::token_hash.eq($db.token_hash(&token)),
                    subscriber_tokens::created_at.eq(now),
                    subscriber_tokens::expires_at.eq(Some(time::to_db(expires))),
                    subscriber_tokens::mailed_at.eq(Some(now)),
                ))
                .returning(subscriber_tokens::id)
                .get_result($c)?;
            Some(IssuedToken {
                id,
                token,
                expires_at: time::from_db(time::to_db(expires)),
            })
        }
    }};
}

impl Database {
    fn token_hash(&self, token: &str) -> Vec<u8> {
        self.keyring().lookup_hash(HASH_DOMAIN, token)
    }

    /// Issues a confirm token for a subscriber, unless a confirmation was
    /// mailed to them within `policy.resend_after` (then `None`).
    pub fn issue_confirm_token(
        &self,
        subscriber_id: Id,
        policy: MailPolicy,
    ) -> Result<Option<IssuedToken>, StorageError> {
        with_write_tx!(self, |c| Ok(issue_confirm!(self, c, subscriber_id, policy)))
    }

    /// A pending or former subscriber signs up again: unless a confirmation
    /// went out within the resend window (then `None` and nothing changes),
    /// replaces their categories and locale, records a `given` consent event
    /// and issues a confirm token — in one transaction. Their status stays
    /// until they confirm.
    pub fn renew_signup(
        &self,
        r: &Renewal<'_>,
        policy: MailPolicy,
    ) -> Result<Option<IssuedToken>, StorageError> {
        let id = r.subscriber_id;
        let cipher = self.seal(r.address.as_bytes(), &sealed::subscriber_address(id));
        with_write_tx!(self, |c| {
            let (channel, pseudonym, status): (String, Option<String>, String) = subscribers::table
                .find(id)
                .select((
                    subscribers::channel,
                    subscribers::pseudonym,
                    subscribers::status,
                ))
                .first(c)
                .optional()?
                .or_not_found(|| format!("subscriber {id}"))?;
            let status = SubscriberStatus::parse(&status)?;
            if !matches!(
                status,
                SubscriberStatus::Pending | SubscriberStatus::Unsubscribed
            ) {
                return Err(StorageError::Refused(format!(
                    "subscriber {id} is {} and cannot sign up again",
                    status.as_str()
                )));
            }
            let Some(issued) = issue_confirm!(self, c, id, policy) else {
                return Ok(None);
            };
            let now = time::to_db(policy.now);
            diesel::delete(subscriptions::table.filter(subscriptions::subscriber_id.eq(id)))
                .execute(c)?;
            for cat in r.category_ids {
                diesel::insert_into(subscriptions::table)
                    .values((
                        subscriptions::subscriber_id.eq(id),
                        subscriptions::category_id.eq(cat),
                        subscriptions::created_at.eq(now),
                    ))
                    .execute(c)?;
            }
            diesel::update(subscribers::table.find(id))
                .set((
                    subscribers::locale.eq(r.locale),
                    subscribers::address_ciphertext.eq(Some(&cipher)),
                ))
                .execute(c)?;
            let slugs = category_slugs!(c, r.category_ids);
            diesel::insert_into(consent_events::table)
                .values((
                    consent_events::subscriber_id.eq(Some(id)),
                    consent_events::pseudonym.eq(&pseudonym),
                    consent_events::channel.eq(&channel),
                    consent_events::kind.eq(ConsentKind::Given.as_str()),
                    consent_events::categories.eq(&slugs),
                    consent_events::wording_version.eq(r.wording_version),
                    consent_events::occurred_at.eq(now),
                    consent_events::evidence.eq(Some(r.evidence)),
                ))
                .execute(c)?;
            Ok(Some(issued))
        })
    }

    /// The stored token of this purpose matching `token`, if any.
    pub fn find_token(
        &self,
        purpose: TokenPurpose,
        token: &str,
    ) -> Result<Option<StoredToken>, StorageError> {
        let hash = self.token_hash(token);
        let row: Option<Row> = with_conn!(self, |c| subscriber_tokens::table
            .filter(subscriber_tokens::token_hash.eq(&hash))
            .filter(subscriber_tokens::purpose.eq(purpose.as_str()))
            .select(Row::as_select())
            .first(c)
            .optional()?);
        row.map(TryInto::try_into).transpose()
    }

    /// Issues a single-use token for `subscriber_id` to download their own
    /// data, valid until `expires_at`; earlier unused ones are dropped.
    pub fn issue_export_token(
        &self,
        subscriber_id: Id,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<String, StorageError> {
        let token = new_token();
        let hash = self.token_hash(&token);
        with_write_tx!(self, |c| {
            diesel::delete(
                subscriber_tokens::table
                    .filter(subscriber_tokens::subscriber_id.eq(subscriber_id))
                    .filter(subscriber_tokens::purpose.eq(TokenPurpose::Export.as_str())),
            )
            .execute(c)?;
            diesel::insert_into(subscriber_tokens::table)
                .values((
                    subscriber_tokens::subscriber_id.eq(subscriber_id),
                    subscriber_tokens::purpose.eq(TokenPurpose::Export.as_str()),
                    subscriber_tokens::token_hash.eq(&hash),
                    subscriber_tokens::created_at.eq(time::to_db(now)),
                    subscriber_tokens::expires_at.eq(Some(time::to_db(expires_at))),
                ))
                .execute(c)?;
            Ok(())
        })?;
        Ok(token)
    }

    /// Marks a single-use (confirm or export) token used; `false` if it
    /// already was (so two clicks at once use it only once).
    pub fn use_confirm_token(&self, id: Id, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let n = with_conn!(self, |c| diesel::update(
            subscriber_tokens::table
                .filter(subscriber_tokens::id.eq(id))
                .filter(subscriber_tokens::used_at.is_null())
        )
        .set(subscriber_tokens::used_at.eq(Some(time::to_db(now))))
        .execute(c)?);
        Ok(n == 1)
    }

    /// Forgets that a token's mail went out (sending failed), so the
    /// resident may ask again at once instead of being throttled.
    pub fn forget_mailed(&self, id: Id) -> Result<(), StorageError> {
        with_conn!(self, |c| diesel::update(subscriber_tokens::table.find(id))
            .set(subscriber_tokens::mailed_at.eq(None::<chrono::NaiveDateTime>))
            .execute(c)?);
        Ok(())
    }

    /// Makes a confirm token usable again (when confirming failed after
    /// [`Database::use_confirm_token`]).
    pub fn release_confirm_token(&self, id: Id) -> Result<(), StorageError> {
        with_conn!(self, |c| diesel::update(subscriber_tokens::table.find(id))
            .set(subscriber_tokens::used_at.eq(None::<chrono::NaiveDateTime>))
            .execute(c)?);
        Ok(())
    }

    /// Records when a manage token was last used.
    pub fn touch_token(&self, id: Id, now: DateTime<Utc>) -> Result<(), StorageError> {
        with_conn!(self, |c| diesel::update(subscriber_tokens::table.find(id))
            .set(subscriber_tokens::used_at.eq(Some(time::to_db(now))))
            .execute(c)?);
        Ok(())
    }

    /// The subscriber's manage token, created on first use. Refused for an
    /// erased subscriber.
    pub fn manage_token(&self, subscriber_id: Id) -> Result<String, StorageError> {
        // Without a mail policy nothing is throttled, so there is a token.
        self.manage_token_inner(subscriber_id, None)?
            .or_not_found(|| format!("the manage token of subscriber {subscriber_id}"))
    }

    /// The manage token for a mail caused by a sign-up request, unless such
    /// a mail went out within `policy.resend_after` (then `None`).
    pub fn manage_token_for_mail(
        &self,
        subscriber_id: Id,
        policy: MailPolicy,
    ) -> Result<Option<String>, StorageError> {
        self.manage_token_inner(subscriber_id, Some(policy))
    }

    fn manage_token_inner(
        &self,
        id: Id,
        mail: Option<MailPolicy>,
    ) -> Result<Option<String>, StorageError> {
        let purpose = TokenPurpose::Manage.as_str();
        // Two first uses at once: one insert wins, the other reads its token.
        for _ in 0..2 {
            let result: Result<Option<(i64, Vec<u8>)>, StorageError> = with_write_tx!(self, |c| {
                let status: String = subscribers::table
                    .find(id)
                    .select(subscribers::status)
                    .first(c)
                    .optional()?
                    .or_not_found(|| format!("subscriber {id}"))?;
                if status == SubscriberStatus::Erased.as_str() {
                    return Err(StorageError::Refused(format!(
                        "subscriber {id} is erased and has no links"
                    )));
                }
                let existing: Option<(i64, Option<Vec<u8>>, Option<chrono::NaiveDateTime>)> =
                    subscriber_tokens::table
                        .filter(subscriber_tokens::subscriber_id.eq(id))
                        .filter(subscriber_tokens::purpose.eq(purpose))
                        .select((
                            subscriber_tokens::id,
                            subscriber_tokens::token_ciphertext,
                            subscriber_tokens::mailed_at,
                        ))
                        .first(c)
                        .optional()?;
                let mailed_now = mail.map(|p| time::to_db(p.now));
                match existing {
                    Some((token_id, cipher, mailed_at)) => {
                        if let Some(p) = mail {
                            let since = time::to_db(p.now - p.resend_after);
                            if mailed_at.is_some_and(|m| m > since) {
                                return Ok(None);
                            }
                            diesel::update(subscriber_tokens::table.find(token_id))
                                .set(subscriber_tokens::mailed_at.eq(mailed_now))
                                .execute(c)?;
                        }
                        let cipher = cipher.or_not_found(|| {
                            format!("the encrypted manage token of subscriber {id}")
                        })?;
                        Ok(Some((token_id, cipher)))
                    }
                    None => {
                        let token = new_token();
                        let now = time::to_db(mail.map_or_else(time::now, |p| p.now));
                        let token_id: i64 = diesel::insert_into(subscriber_tokens::table)
                            .values((
                                subscriber_tokens::subscriber_id.eq(id),
                                subscriber_tokens::purpose.eq(purpose),
                                subscriber_tokens::token_hash.eq(self.token_hash(&token)),
                                subscriber_tokens::created_at.eq(now),
                                subscriber_tokens::mailed_at.eq(mailed_now),
                            ))
                            .returning(subscriber_tokens::id)
                            .get_result(c)?;
                        let cipher = self.seal(token.as_bytes(), &sealed::manage_token(token_id));
                        diesel::update(subscriber_tokens::table.find(token_id))
                            .set(subscriber_tokens::token_ciphertext.eq(Some(&cipher)))
                            .execute(c)?;
                        Ok(Some((token_id, cipher)))
                    }
                }
            });
            match result {
                Err(StorageError::Conflict { .. }) => continue,
                Ok(None) => return Ok(None),
                Ok(Some((token_id, cipher))) => {
                    let plain = self.open_sealed(&cipher, &sealed::manage_token(token_id))?;
                    return String::from_utf8(plain)
                        .map(Some)
                        .map_err(|_| StorageError::Crypto(crate::crypto::CryptoError::Decrypt));
                }
                Err(e) => return Err(e),
            }
        }
        Err(StorageError::Conflict {
            what: format!("the manage token of subscriber {id}"),
        })
    }

    /// Replaces a subscriber's categories. When the set changes, a `given`
    /// consent event lists the new set, in the same transaction. Returns
    /// whether anything changed.
    pub fn set_subscriptions(
        &self,
        subscriber_id: Id,
        category_ids: &[Id],
        wording_version: &str,
        evidence: &str,
    ) -> Result<bool, StorageError> {
        let id = subscriber_id;
        let mut wanted = category_ids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let now = time::to_db(time::now());
        with_write_tx!(self, |c| {
            let (channel, pseudonym): (String, Option<String>) = subscribers::table
                .find(id)
                .select((subscribers::channel, subscribers::pseudonym))
                .first(c)
                .optional()?
                .or_not_found(|| format!("subscriber {id}"))?;
            let current: Vec<i64> = subscriptions::table
                .filter(subscriptions::subscriber_id.eq(id))
                .order(subscriptions::category_id.asc())
                .select(subscriptions::category_id)
                .load(c)?;
            if current == wanted {
                return Ok(false);
            }
            diesel::delete(
                subscriptions::table
                    .filter(subscriptions::subscriber_id.eq(id))
                    .filter(subscriptions::category_id.ne_all(&wanted)),
            )
            .execute(c)?;
            for cat in wanted.iter().filter(|w| !current.contains(w)) {
                diesel::insert_into(subscriptions::table)
                    .values((
                        subscriptions::subscriber_id.eq(id),
                        subscriptions::category_id.eq(cat),
                        subscriptions::created_at.eq(now),
                    ))
                    .execute(c)?;
            }
            let slugs = category_slugs!(c, &wanted);
            diesel::insert_into(consent_events::table)
                .values((
                    consent_events::subscriber_id.eq(Some(id)),
                    consent_events::pseudonym.eq(&pseudonym),
                    consent_events::channel.eq(&channel),
                    consent_events::kind.eq(ConsentKind::Given.as_str()),
                    consent_events::categories.eq(&slugs),
                    consent_events::wording_version.eq(wording_version),
                    consent_events::occurred_at.eq(now),
                    consent_events::evidence.eq(Some(evidence)),
                ))
                .execute(c)?;
            Ok(true)
        })
    }

    /// A subscriber's tokens (without secrets), oldest first.
    pub fn tokens_of(&self, subscriber_id: Id) -> Result<Vec<StoredToken>, StorageError> {
        let rows: Vec<Row> = with_conn!(self, |c| subscriber_tokens::table
            .filter(subscriber_tokens::subscriber_id.eq(subscriber_id))
            .order(subscriber_tokens::id.asc())
            .select(Row::as_select())
            .load(c)?);
        rows.into_iter().map(TryInto::try_into).collect()
    }
}
