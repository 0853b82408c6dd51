//! Subscribers and their subscriptions. Addresses are stored only
//! encrypted, with a keyed hash for lookup.

use diesel::prelude::*;
use herold_channel_api::ChannelKind;

use super::{
    category_slugs,
    error::OrNotFound,
    schema::{
        consent_events, conversations, deliveries, inbound_events, outbox, subscriber_tokens,
        subscribers, subscriptions,
    },
    sealed, time, with_conn, with_write_tx, AuditWith, Database, StorageError,
};
use crate::domain::{
    normalize_address, ConsentKind, DeliveryState, ErasureRecord, Id, Pseudonym, Subscriber,
    SubscriberStatus, Subscription,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = subscribers)]
struct Row {
    id: i64,
    channel: String,
    pseudonym: Option<String>,
    locale: String,
    status: String,
    created_at: chrono::NaiveDateTime,
    confirmed_at: Option<chrono::NaiveDateTime>,
    ended_at: Option<chrono::NaiveDateTime>,
}

impl TryFrom<Row> for Subscriber {
    type Error = StorageError;
    fn try_from(r: Row) -> Result<Self, StorageError> {
        Ok(Subscriber {
            id: r.id,
            channel: r
                .channel
                .parse()
                .map_err(|e: herold_channel_api::UnknownChannel| {
                    StorageError::Refused(e.to_string())
                })?,
            pseudonym: Pseudonym::from_trusted(r.pseudonym.unwrap_or_else(|| "—".into())),
            locale: r.locale,
            status: SubscriberStatus::parse(&r.status)?,
            created_at: time::from_db(r.created_at),
            confirmed_at: time::from_db_opt(r.confirmed_at),
            ended_at: time::from_db_opt(r.ended_at),
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = subscriptions)]
struct SubscriptionRow {
    subscriber_id: i64,
    category_id: i64,
    created_at: chrono::NaiveDateTime,
}

/// A new subscriber together with the consent that makes them one.
#[derive(Clone)]
pub struct NewSubscriber {
    pub channel: ChannelKind,
    /// The address as typed or received; normalised before storage.
    pub address: String,
    pub locale: String,
    /// `Pending` until double opt-in, or `Active` where the channel itself
    /// proves the address (the resident wrote to us).
    pub status: SubscriberStatus,
    pub category_ids: Vec<Id>,
    /// Version of the consent text the resident saw.
    pub wording_version: String,
    /// Reference to the proof of consent.
    pub evidence: Option<String>,
}

impl std::fmt::Debug for NewSubscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSubscriber")
            .field("channel", &self.channel)
            .field("address", &"<redacted>")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Skips a leaving subscriber's queued deliveries in the same transaction
/// as the Stop, so nothing more is claimed for them, even from a broadcast
/// already under way.
macro_rules! skip_queued {
    ($c:expr, $id:expr, $now:expr) => {
        diesel::update(
            deliveries::table
                .filter(deliveries::subscriber_id.eq($id))
                .filter(deliveries::state.eq(DeliveryState::Queued.as_str())),
        )
        .set((
            deliveries::state.eq(DeliveryState::Skipped.as_str()),
            deliveries::updated_at.eq($now),
        ))
        .execute($c)?
    };
}

impl Database {
    /// Stores a subscriber, their subscriptions and a `given` consent event
    /// in one transaction. An address already on the channel is a conflict.
    pub fn insert_subscriber(&self, new: &NewSubscriber) -> Result<Subscriber, StorageError> {
        let normalized = normalize_address(new.channel, &new.address)?;
        let lookup = self
            .keyring()
            .lookup_hash(new.channel.as_str(), &normalized);
        let now = time::to_db(time::now());
        let channel = new.channel.as_str();
        let confirmed_at = (new.status == SubscriberStatus::Active).then_some(now);
        // A pseudonym collision (unlikely: 32^7 codes) is retried with a new one.
        for _ in 0..8 {
            let pseudonym = Pseudonym::random(&mut rand::thread_rng());
            let result: Result<Row, StorageError> = with_write_tx!(self, |c| {
                let exists: i64 = subscribers::table
                    .filter(subscribers::channel.eq(channel))
                    .filter(subscribers::address_hmac.eq(&lookup))
                    .count()
                    .get_result(c)?;
                if exists > 0 {
                    return Err(StorageError::Conflict {
                        what: format!("a subscriber with this address on {channel}"),
                    });
                }
                let row: Row = diesel::insert_into(subscribers::table)
                    .values((
                        subscribers::channel.eq(channel),
                        subscribers::address_hmac.eq(Some(&lookup)),
                        subscribers::pseudonym.eq(Some(pseudonym.as_str())),
                        subscribers::locale.eq(&new.locale),
                        subscribers::status.eq(new.status.as_str()),
                        subscribers::created_at.eq(now),
                        subscribers::confirmed_at.eq(confirmed_at),
                    ))
                    .returning(Row::as_returning())
                    .get_result(c)?;
                let cipher = self.seal(normalized.as_bytes(), &sealed::subscriber_address(row.id));
                diesel::update(subscribers::table.find(row.id))
                    .set(subscribers::address_ciphertext.eq(Some(&cipher)))
                    .execute(c)?;
                for cat in &new.category_ids {
                    diesel::insert_into(subscriptions::table)
                        .values((
                            subscriptions::subscriber_id.eq(row.id),
                            subscriptions::category_id.eq(cat),
                            subscriptions::created_at.eq(now),
                        ))
                        .execute(c)?;
                }
                let slugs = category_slugs!(c, &new.category_ids);
                let mut kinds = vec![ConsentKind::Given];
                if new.status == SubscriberStatus::Active {
                    kinds.push(ConsentKind::Confirmed);
                }
                for kind in kinds {
                    diesel::insert_into(consent_events::table)
                        .values((
                            consent_events::subscriber_id.eq(Some(row.id)),
                            consent_events::pseudonym.eq(Some(pseudonym.as_str())),
                            consent_events::channel.eq(channel),
                            consent_events::kind.eq(kind.as_str()),
                            consent_events::categories.eq(&slugs),
                            consent_events::wording_version.eq(&new.wording_version),
                            consent_events::occurred_at.eq(now),
                            consent_events::evidence.eq(&new.evidence),
                        ))
                        .execute(c)?;
                }
                Ok(row)
            });
            match result {
                Err(StorageError::Conflict { what }) if what.contains("pseudonym") => continue,
                other => return other?.try_into(),
            }
        }
        Err(StorageError::Conflict {
            what: "a free pseudonym (8 attempts)".into(),
        })
    }

    /// Adds many active subscribers to one category at once (imports,
    /// benchmarks), with consent given and confirmed under `evidence`, in
    /// transactions of 500. Addresses already subscribed on the channel are
    /// an error for their whole chunk; earlier chunks stay. Returns how many
    /// were added.
    pub fn import_subscribers(
        &self,
        channel: ChannelKind,
        addresses: &[String],
        category_id: Id,
        wording_version: &str,
        evidence: &str,
    ) -> Result<usize, StorageError> {
        let slug: String = self.get_category(category_id)?.slug.to_string();
        let ch = channel.as_str();
        let mut added = 0;
        for chunk in addresses.chunks(500) {
            let keys = self.keyring();
            let prepared: Vec<(String, Vec<u8>)> = chunk
                .iter()
                .map(|a| {
                    let n = normalize_address(channel, a)?;
                    let h = keys.lookup_hash(ch, &n);
                    Ok((n, h))
                })
                .collect::<Result<_, StorageError>>()?;
            // Retried with fresh pseudonyms in the rare case one collides.
            let mut attempt = 0;
            loop {
                attempt += 1;
                let now = time::to_db(time::now());
                let pseudonyms: Vec<String> = (0..prepared.len())
                    .map(|_| {
                        Pseudonym::random(&mut rand::thread_rng())
                            .as_str()
                            .to_owned()
                    })
                    .collect();
                let result = with_write_tx!(self, |c| {
                    let rows: Vec<_> = prepared
                        .iter()
                        .zip(&pseudonyms)
                        .map(|((_, h), p)| {
                            (
                                subscribers::channel.eq(ch),
                                subscribers::address_hmac.eq(Some(h)),
                                subscribers::pseudonym.eq(Some(p)),
                                subscribers::locale.eq("de"),
                                subscribers::status.eq(SubscriberStatus::Active.as_str()),
                                subscribers::created_at.eq(now),
                                subscribers::confirmed_at.eq(Some(now)),
                            )
                        })
                        .collect();
                    let ids: Vec<i64> = diesel::insert_into(subscribers::table)
                        .values(&rows)
                        .returning(subscribers::id)
                        .get_results(c)?;
                    // Each address sealed to its row.
                    for (id, (address, _)) in ids.iter().zip(&prepared) {
                        let ct = self.seal(address.as_bytes(), &sealed::subscriber_address(*id));
                        diesel::update(subscribers::table.find(*id))
                            .set(subscribers::address_ciphertext.eq(Some(ct)))
                            .execute(c)?;
                    }
                    let subs: Vec<_> = ids
                        .iter()
                        .map(|id| {
                            (
                                subscriptions::subscriber_id.eq(*id),
                                subscriptions::category_id.eq(category_id),
                                subscriptions::created_at.eq(now),
                            )
                        })
                        .collect();
                    diesel::insert_into(subscriptions::table)
                        .values(&subs)
                        .execute(c)?;
                    for kind in [ConsentKind::Given, ConsentKind::Confirmed] {
                        let events: Vec<_> = ids
                            .iter()
                            .zip(&pseudonyms)
                            .map(|(id, p)| {
                                (
                                    consent_events::subscriber_id.eq(Some(*id)),
                                    consent_events::pseudonym.eq(Some(p)),
                                    consent_events::channel.eq(ch),
                                    consent_events::kind.eq(kind.as_str()),
                                    consent_events::categories.eq(&slug),
                                    consent_events::wording_version.eq(wording_version),
                                    consent_events::occurred_at.eq(now),
                                    consent_events::evidence.eq(Some(evidence)),
                                )
                            })
                            .collect();
                        diesel::insert_into(consent_events::table)
                            .values(&events)
                            .execute(c)?;
                    }
                    Ok(ids.len())
                });
                match result {
                    Err(StorageError::Conflict { what })
                        if what.contains("pseudonym") && attempt < 8 =>
                    {
                        continue
                    }
                    other => {
                        added += other?;
                        break;
                    }
                }
            }
        }
        // Fresh statistics after a bulk load, as autovacuum would gather
        // later: without them PostgreSQL plans the fan-out query as a scan
        // of every subscriber of the channel (100 times slower).
        if let crate::storage::Pool::Postgres(p) = self.pool() {
            use diesel::connection::SimpleConnection;
            p.get()?
                .batch_execute("ANALYZE subscribers; ANALYZE subscriptions;")?;
        }
        Ok(added)
    }

    /// Finds the subscriber with this address on this channel.
    pub fn find_subscriber_by_address(
        &self,
        channel: ChannelKind,
        address: &str,
    ) -> Result<Option<Subscriber>, StorageError> {
        let normalized = normalize_address(channel, address)?;
        let lookup = self.keyring().lookup_hash(channel.as_str(), &normalized);
        let row: Option<Row> = with_conn!(self, |c| subscribers::table
            .filter(subscribers::channel.eq(channel.as_str()))
            .filter(subscribers::address_hmac.eq(&lookup))
            .select(Row::as_select())
            .first(c)
            .optional()?);
        row.map(TryInto::try_into).transpose()
    }

    /// The subscriber with this pseudonym.
    pub fn find_subscriber_by_pseudonym(
        &self,
        pseudonym: &str,
    ) -> Result<Option<Subscriber>, StorageError> {
        let row: Option<Row> = with_conn!(self, |c| subscribers::table
            .filter(subscribers::pseudonym.eq(pseudonym))
            .select(Row::as_select())
            .first(c)
            .optional()?);
        row.map(TryInto::try_into).transpose()
    }

    /// The subscribers with these ids (those that exist).
    pub fn subscribers_by_ids(&self, ids: &[Id]) -> Result<Vec<Subscriber>, StorageError> {
        let rows: Vec<Row> = with_conn!(self, |c| subscribers::table
            .filter(subscribers::id.eq_any(ids))
            .select(Row::as_select())
            .load(c)?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// One subscriber.
    pub fn get_subscriber(&self, id: Id) -> Result<Subscriber, StorageError> {
        let row: Option<Row> = with_conn!(self, |c| subscribers::table
            .find(id)
            .select(Row::as_select())
            .first(c)
            .optional()?);
        row.or_not_found(|| format!("subscriber {id}"))?.try_into()
    }

    /// The decrypted address, for sending. `None` once erased.
    pub fn subscriber_address(&self, id: Id) -> Result<Option<String>, StorageError> {
        let cipher: Option<Option<Vec<u8>>> = with_conn!(self, |c| subscribers::table
            .find(id)
            .select(subscribers::address_ciphertext)
            .first(c)
            .optional()?);
        match cipher {
            None => Err(StorageError::NotFound {
                what: format!("subscriber {id}"),
            }),
            Some(None) => Ok(None),
            Some(Some(ct)) => {
                let plain = self.open_sealed(&ct, &sealed::subscriber_address(id))?;
                String::from_utf8(plain)
                    .map(Some)
                    .map_err(|_| StorageError::Crypto(crate::crypto::CryptoError::Decrypt))
            }
        }
    }

    /// Subscribers, optionally of one channel, oldest first.
    pub fn list_subscribers(
        &self,
        channel: Option<ChannelKind>,
    ) -> Result<Vec<Subscriber>, StorageError> {
        let rows: Vec<Row> = with_conn!(self, |c| {
            let mut q = subscribers::table
                .order(subscribers::id.asc())
                .select(Row::as_select())
                .into_boxed();
            if let Some(ch) = channel {
                q = q.filter(subscribers::channel.eq(ch.as_str()));
            }
            q.load(c)?
        });
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Marks a pending subscriber as confirmed (double opt-in done).
    pub fn confirm_subscriber(
        &self,
        id: Id,
        wording_version: &str,
        evidence: Option<&str>,
    ) -> Result<Subscriber, StorageError> {
        self.change_status(
            id,
            SubscriberStatus::Active,
            ConsentKind::Confirmed,
            wording_version,
            evidence,
            None,
        )
    }

    /// The channel subscriber `id` is on.
    fn channel_of(&self, id: Id) -> Result<ChannelKind, StorageError> {
        let channel: String = with_conn!(self, |c| subscribers::table
            .find(id)
            .select(subscribers::channel)
            .first(c)
            .optional()?
            .or_not_found(|| format!("subscriber {id}"))?);
        channel
            .parse()
            .map_err(|e: herold_channel_api::UnknownChannel| StorageError::Refused(e.to_string()))
    }

    /// Makes a former subscriber active again (they sent Start anew from
    /// `address`, which is stored again: the address of a resident who left
    /// is forgotten): a `given` consent event with the new evidence.
    pub fn reactivate_subscriber(
        &self,
        id: Id,
        address: &str,
        wording_version: &str,
        evidence: Option<&str>,
    ) -> Result<Subscriber, StorageError> {
        let kind = self.channel_of(id)?;
        let cipher = self.seal(
            normalize_address(kind, address)?.as_bytes(),
            &sealed::subscriber_address(id),
        );
        self.change_status(
            id,
            SubscriberStatus::Active,
            ConsentKind::Given,
            wording_version,
            evidence,
            Some(cipher),
        )
    }

    /// Records that the resident with `address` on `channel` wrote at
    /// `at` (kept only when later than what is stored); nobody with that
    /// address: nothing happens.
    pub fn record_inbound(
        &self,
        channel: ChannelKind,
        address: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StorageError> {
        let Ok(normalized) = normalize_address(channel, address) else {
            return Ok(());
        };
        let lookup = self.keyring().lookup_hash(channel.as_str(), &normalized);
        let at = time::to_db(at);
        with_conn!(self, |c| diesel::update(
            subscribers::table
                .filter(subscribers::channel.eq(channel.as_str()))
                .filter(subscribers::address_hmac.eq(&lookup))
                .filter(
                    subscribers::last_inbound_at
                        .is_null()
                        .or(subscribers::last_inbound_at.lt(at))
                )
        )
        .set(subscribers::last_inbound_at.eq(Some(at)))
        .execute(c)?);
        Ok(())
    }

    /// When each of `ids` last wrote (those who never did are absent).
    pub fn last_inbound_of(
        &self,
        ids: &[Id],
    ) -> Result<std::collections::HashMap<Id, chrono::DateTime<chrono::Utc>>, StorageError> {
        let mut out = std::collections::HashMap::new();
        for chunk in ids.chunks(500) {
            let rows: Vec<(i64, Option<chrono::NaiveDateTime>)> =
                with_conn!(self, |c| subscribers::table
                    .filter(subscribers::id.eq_any(chunk))
                    .filter(subscribers::last_inbound_at.is_not_null())
                    .select((subscribers::id, subscribers::last_inbound_at))
                    .load(c)?);
            out.extend(
                rows.into_iter()
                    .filter_map(|(id, at)| Some((id, time::from_db(at?)))),
            );
        }
        Ok(out)
    }

    /// Records the language a subscriber writes in (`de` or `en`).
    pub fn set_subscriber_locale(&self, id: Id, locale: &str) -> Result<(), StorageError> {
        with_conn!(self, |c| diesel::update(subscribers::table.find(id))
            .set(subscribers::locale.eq(locale))
            .execute(c)?);
        Ok(())
    }

    /// Moves a subscriber to a new address on the same channel (a Telegram
    /// group that became a supergroup), with `audit`'s event. An address
    /// another subscriber of the channel already has is a conflict.
    pub fn readdress_subscriber(
        &self,
        id: Id,
        new_address: &str,
        audit: &AuditWith<'_, Subscriber>,
    ) -> Result<Subscriber, StorageError> {
        let kind = self.channel_of(id)?;
        let channel = kind.as_str();
        let normalized = normalize_address(kind, new_address)?;
        let keys = self.keyring();
        let cipher = self.seal(normalized.as_bytes(), &sealed::subscriber_address(id));
        let lookup = keys.lookup_hash(channel, &normalized);
        with_write_tx!(self, |c| {
            let taken: i64 = subscribers::table
                .filter(subscribers::channel.eq(channel))
                .filter(subscribers::address_hmac.eq(&lookup))
                .filter(subscribers::id.ne(id))
                .count()
                .get_result(c)?;
            if taken > 0 {
                return Err(StorageError::Conflict {
                    what: format!("a subscriber with this address on {channel}"),
                });
            }
            let row: Row = diesel::update(
                subscribers::table
                    .find(id)
                    .filter(subscribers::address_hmac.is_not_null()),
            )
            .set((
                subscribers::address_ciphertext.eq(Some(&cipher)),
                subscribers::address_hmac.eq(Some(&lookup)),
            ))
            .returning(Row::as_returning())
            .get_result(c)
            .optional()?
            .or_not_found(|| format!("subscriber {id} (erased)"))?;
            let subscriber: Subscriber = row.try_into()?;
            super::audit::audit_tx!(c, audit, &subscriber);
            Ok(subscriber)
        })
    }

    /// Ends all subscriptions (STOP); the record of consent stays.
    pub fn unsubscribe(
        &self,
        id: Id,
        wording_version: &str,
        evidence: Option<&str>,
    ) -> Result<Subscriber, StorageError> {
        self.change_status(
            id,
            SubscriberStatus::Unsubscribed,
            ConsentKind::Withdrawn,
            wording_version,
            evidence,
            None,
        )
    }

    fn change_status(
        &self,
        id: Id,
        to: SubscriberStatus,
        kind: ConsentKind,
        wording_version: &str,
        evidence: Option<&str>,
        address_ciphertext: Option<Vec<u8>>,
    ) -> Result<Subscriber, StorageError> {
        let now = time::to_db(time::now());
        let row: Row = with_write_tx!(self, |c| {
            let current: Row = subscribers::table
                .find(id)
                .select(Row::as_select())
                .first(c)
                .optional()?
                .or_not_found(|| format!("subscriber {id}"))?;
            SubscriberStatus::parse(&current.status)?
                .transition(to)
                .map_err(|e| StorageError::Refused(format!("subscriber {id}: {e}")))?;
            let cat_ids: Vec<i64> = subscriptions::table
                .filter(subscriptions::subscriber_id.eq(id))
                .select(subscriptions::category_id)
                .load(c)?;
            let slugs = category_slugs!(c, &cat_ids);
            let (confirmed, ended) = match to {
                SubscriberStatus::Active => (Some(now), None),
                _ => (current.confirmed_at, Some(now)),
            };
            let row: Row = diesel::update(subscribers::table.find(id))
                .set((
                    subscribers::status.eq(to.as_str()),
                    subscribers::confirmed_at.eq(confirmed),
                    subscribers::ended_at.eq(ended),
                ))
                .returning(Row::as_returning())
                .get_result(c)?;
            if to == SubscriberStatus::Active {
                // A confirmed (again) address starts without bounces, and
                // with a new manage link: links in older mails stop working.
                diesel::update(subscribers::table.find(id))
                    .set((
                        subscribers::bounces.eq(0),
                        subscribers::last_bounce_at.eq(None::<chrono::NaiveDateTime>),
                    ))
                    .execute(c)?;
                diesel::delete(
                    subscriber_tokens::table
                        .filter(subscriber_tokens::subscriber_id.eq(id))
                        .filter(subscriber_tokens::purpose.eq("manage")),
                )
                .execute(c)?;
            }
            if let Some(cipher) = &address_ciphertext {
                diesel::update(subscribers::table.find(id))
                    .set(subscribers::address_ciphertext.eq(Some(cipher)))
                    .execute(c)?;
            }
            if to == SubscriberStatus::Unsubscribed {
                diesel::delete(subscriptions::table.filter(subscriptions::subscriber_id.eq(id)))
                    .execute(c)?;
                skip_queued!(c, id, now);
            }
            diesel::insert_into(consent_events::table)
                .values((
                    consent_events::subscriber_id.eq(Some(id)),
                    consent_events::pseudonym.eq(&current.pseudonym),
                    consent_events::channel.eq(&current.channel),
                    consent_events::kind.eq(kind.as_str()),
                    consent_events::categories.eq(&slugs),
                    consent_events::wording_version.eq(wording_version),
                    consent_events::occurred_at.eq(now),
                    consent_events::evidence.eq(evidence),
                ))
                .execute(c)?;
            Ok(row)
        })?;
        row.try_into()
    }

    /// Erases a subscriber on request: address, lookup hash, pseudonym,
    /// subscriptions, links, conversations with messages and photos, queued
    /// replies and the inbound events they sent go; their delivery rows
    /// stay for the counts without the person, the provider's message id
    /// or an error text; their consent events are kept in the form
    /// `record` says, and an `erased` event records the erasure itself;
    /// a staff erasure is recorded with `audit`'s event. On
    /// SQLite the freed pages are zeroed (`secure_delete`) and the WAL is
    /// checkpointed, so the file holds no copy.
    pub fn erase_subscriber(
        &self,
        id: Id,
        wording_version: &str,
        record: ErasureRecord,
        audit: Option<&AuditWith<'_, Id>>,
    ) -> Result<(), StorageError> {
        let now = time::to_db(time::now());
        with_write_tx!(self, |c| {
            let current: Row = subscribers::table
                .find(id)
                .select(Row::as_select())
                .first(c)
                .optional()?
                .or_not_found(|| format!("subscriber {id}"))?;
            let from = SubscriberStatus::parse(&current.status)?;
            if from == SubscriberStatus::Erased {
                return Ok(());
            }
            from.transition(SubscriberStatus::Erased)
                .map_err(|e| StorageError::Refused(format!("subscriber {id}: {e}")))?;
            super::retention::anonymise_ledger!(c, &[id], record);
            let kept_pseudonym = match record {
                ErasureRecord::Anonymous => None,
                ErasureRecord::Pseudonymous => current.pseudonym.clone(),
            };
            diesel::insert_into(consent_events::table)
                .values((
                    consent_events::channel.eq(&current.channel),
                    consent_events::pseudonym.eq(&kept_pseudonym),
                    consent_events::kind.eq(ConsentKind::Erased.as_str()),
                    consent_events::categories.eq(""),
                    consent_events::wording_version.eq(wording_version),
                    consent_events::occurred_at.eq(now),
                ))
                .execute(c)?;
            diesel::delete(subscriptions::table.filter(subscriptions::subscriber_id.eq(id)))
                .execute(c)?;
            skip_queued!(c, id, now);
            diesel::delete(conversations::table.filter(conversations::subscriber_id.eq(id)))
                .execute(c)?;
            // Messages still queued for them, with their text.
            diesel::delete(outbox::table.filter(outbox::subscriber_id.eq(id))).execute(c)?;
            // A staff member's link to this subscription for test sends.
            diesel::delete(
                super::schema::staff_test_recipients::table
                    .filter(super::schema::staff_test_recipients::subscriber_id.eq(id)),
            )
            .execute(c)?;
            // What they sent, as stored by the webhook (found by the same
            // keyed hash as their address).
            let lookup: Option<Vec<u8>> = subscribers::table
                .find(id)
                .select(subscribers::address_hmac)
                .first(c)?;
            if let Some(lookup) = lookup {
                diesel::delete(
                    inbound_events::table
                        .filter(inbound_events::channel.eq(&current.channel))
                        .filter(inbound_events::sender.eq(lookup)),
                )
                .execute(c)?;
            }
            diesel::delete(
                subscriber_tokens::table.filter(subscriber_tokens::subscriber_id.eq(id)),
            )
            .execute(c)?;
            // The delivery history no longer points to them: the rows stay
            // for the broadcasts' counts (and the parity report), without
            // the person, the provider's message id or an error text (a
            // provider's error may quote the address).
            diesel::update(deliveries::table.filter(deliveries::subscriber_id.eq(id)))
                .set((
                    deliveries::subscriber_id.eq(None::<i64>),
                    deliveries::provider_message_id.eq(None::<String>),
                    deliveries::last_error.eq(None::<String>),
                ))
                .execute(c)?;
            diesel::update(subscribers::table.find(id))
                .set((
                    subscribers::address_ciphertext.eq(None::<Vec<u8>>),
                    subscribers::address_hmac.eq(None::<Vec<u8>>),
                    subscribers::pseudonym.eq(None::<String>),
                    subscribers::status.eq(SubscriberStatus::Erased.as_str()),
                    subscribers::ended_at.eq(Some(now)),
                ))
                .execute(c)?;
            if let Some(audit) = audit {
                super::audit::audit_tx!(c, audit, &id);
            }
            Ok(())
        })?;
        self.checkpoint_wal();
        Ok(())
    }

    /// Adds a category to a subscriber (idempotent).
    pub fn subscribe(&self, subscriber_id: Id, category_id: Id) -> Result<(), StorageError> {
        let now = time::to_db(time::now());
        with_conn!(self, |c| {
            let exists: i64 = subscriptions::table
                .filter(subscriptions::subscriber_id.eq(subscriber_id))
                .filter(subscriptions::category_id.eq(category_id))
                .count()
                .get_result(c)?;
            if exists == 0 {
                diesel::insert_into(subscriptions::table)
                    .values((
                        subscriptions::subscriber_id.eq(subscriber_id),
                        subscriptions::category_id.eq(category_id),
                        subscriptions::created_at.eq(now),
                    ))
                    .execute(c)?;
            }
        });
        Ok(())
    }

    /// Removes a category from a subscriber; returns whether it was there.
    pub fn unsubscribe_category(
        &self,
        subscriber_id: Id,
        category_id: Id,
    ) -> Result<bool, StorageError> {
        let n = with_conn!(self, |c| diesel::delete(
            subscriptions::table
                .filter(subscriptions::subscriber_id.eq(subscriber_id))
                .filter(subscriptions::category_id.eq(category_id))
        )
        .execute(c)?);
        Ok(n > 0)
    }

    /// A subscriber's subscriptions.
    pub fn subscriptions_of(&self, subscriber_id: Id) -> Result<Vec<Subscription>, StorageError> {
        let rows: Vec<SubscriptionRow> = with_conn!(self, |c| subscriptions::table
            .filter(subscriptions::subscriber_id.eq(subscriber_id))
            .order(subscriptions::category_id.asc())
            .select(SubscriptionRow::as_select())
            .load(c)?);
        Ok(rows
            .into_iter()
            .map(|r| Subscription {
                subscriber_id: r.subscriber_id,
                category_id: r.category_id,
                created_at: time::from_db(r.created_at),
            })
            .collect())
    }
}
