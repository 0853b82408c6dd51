//! Deliveries of announcements and their state machine.

use diesel::prelude::*;
use herold_channel_api::ChannelKind;

use super::{
    error::OrNotFound,
    schema::{broadcasts, deliveries, subscribers},
    time, with_conn, with_write_tx, Database, StorageError,
};
use crate::domain::{Delivery, DeliveryState, Id, NewDelivery};

#[derive(Queryable, Selectable)]
#[diesel(table_name = deliveries)]
struct Row {
    id: i64,
    announcement_id: i64,
    channel: String,
    subscriber_id: Option<i64>,
    target: Option<String>,
    state: String,
    attempts: i32,
    provider_message_id: Option<String>,
    last_error: Option<String>,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

impl TryFrom<Row> for Delivery {
    type Error = StorageError;
    fn try_from(r: Row) -> Result<Self, StorageError> {
        Ok(Delivery {
            id: r.id,
            announcement_id: r.announcement_id,
            channel: r
                .channel
                .parse()
                .map_err(|e: herold_channel_api::UnknownChannel| {
                    StorageError::Refused(e.to_string())
                })?,
            subscriber_id: r.subscriber_id,
            target: r.target,
            state: DeliveryState::parse(&r.state)?,
            attempts: r.attempts,
            provider_message_id: r.provider_message_id,
            last_error: r.last_error,
            created_at: time::from_db(r.created_at),
            updated_at: time::from_db(r.updated_at),
        })
    }
}

/// What a state change records besides the new state.
#[derive(Debug, Clone, Default)]
pub struct TransitionDetails {
    /// The provider's id for the sent message.
    pub provider_message_id: Option<String>,
    /// A short, personal-data-free reason for failure or retry.
    pub error: Option<String>,
}

impl Database {
    /// Queues deliveries; returns them with their ids.
    pub fn enqueue_deliveries(&self, new: &[NewDelivery]) -> Result<Vec<Delivery>, StorageError> {
        let now = time::to_db(time::now());
        let rows: Vec<Row> = with_write_tx!(self, |c| {
            let mut out = Vec::with_capacity(new.len());
            for d in new {
                out.push(
                    diesel::insert_into(deliveries::table)
                        .values((
                            deliveries::announcement_id.eq(d.announcement_id),
                            deliveries::channel.eq(d.channel.as_str()),
                            deliveries::subscriber_id.eq(d.subscriber_id),
                            deliveries::target.eq(&d.target),
                            deliveries::state.eq(DeliveryState::Queued.as_str()),
                            deliveries::attempts.eq(0),
                            deliveries::created_at.eq(now),
                            deliveries::updated_at.eq(now),
                        ))
                        .returning(Row::as_returning())
                        .get_result(c)?,
                );
            }
            Ok(out)
        })?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// One delivery.
    pub fn get_delivery(&self, id: Id) -> Result<Delivery, StorageError> {
        let row: Option<Row> = with_conn!(self, |c| deliveries::table
            .find(id)
            .select(Row::as_select())
            .first(c)
            .optional()?);
        row.or_not_found(|| format!("delivery {id}"))?.try_into()
    }

    /// Moves a delivery to `next` if the state machine allows it. Entering
    /// `sending` counts an attempt.
    pub fn transition_delivery(
        &self,
        id: Id,
        next: DeliveryState,
        details: &TransitionDetails,
    ) -> Result<Delivery, StorageError> {
        let now = time::to_db(time::now());
        let row: Row = with_write_tx!(self, |c| {
            let current: Row = deliveries::table
                .find(id)
                .select(Row::as_select())
                .first(c)
                .optional()?
                .or_not_found(|| format!("delivery {id}"))?;
            DeliveryState::parse(&current.state)?
                .transition(next)
                .map_err(|e| StorageError::Refused(e.to_string()))?;
            let attempts = current.attempts + i32::from(next == DeliveryState::Sending);
            Ok(diesel::update(deliveries::table.find(id))
                .set((
                    deliveries::state.eq(next.as_str()),
                    deliveries::attempts.eq(attempts),
                    deliveries::provider_message_id.eq(details
                        .provider_message_id
                        .as_ref()
                        .or(current.provider_message_id.as_ref())),
                    deliveries::last_error
                        .eq(details.error.as_ref().or(current.last_error.as_ref())),
                    deliveries::updated_at.eq(now),
                ))
                .returning(Row::as_returning())
                .get_result(c)?)
        })?;
        row.try_into()
    }

    /// The deliveries of one announcement, by id.
    pub fn deliveries_of(&self, announcement_id: Id) -> Result<Vec<Delivery>, StorageError> {
        let rows: Vec<Row> = with_conn!(self, |c| deliveries::table
            .filter(deliveries::announcement_id.eq(announcement_id))
            .order(deliveries::id.asc())
            .select(Row::as_select())
            .load(c)?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// A subscriber's deliveries, oldest first.
    pub fn deliveries_to(&self, subscriber_id: Id) -> Result<Vec<Delivery>, StorageError> {
        let rows: Vec<Row> = with_conn!(self, |c| deliveries::table
            .filter(deliveries::subscriber_id.eq(subscriber_id))
            .order(deliveries::id.asc())
            .select(Row::as_select())
            .load(c)?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The delivery a provider receipt refers to.
    pub fn delivery_by_provider_id(
        &self,
        channel: ChannelKind,
        provider_message_id: &str,
    ) -> Result<Option<Delivery>, StorageError> {
        let row: Option<Row> = with_conn!(self, |c| deliveries::table
            .filter(deliveries::channel.eq(channel.as_str()))
            .filter(deliveries::provider_message_id.eq(provider_message_id))
            .select(Row::as_select())
            .first(c)
            .optional()?);
        row.map(TryInto::try_into).transpose()
    }
}

/// What a provider status report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusApplied {
    /// The delivery moved to the reported state.
    Applied,
    /// The delivery is already there or further (reports arrive out of
    /// order and more than once); nothing changed.
    Ignored,
    /// No delivery of this channel has that provider id.
    Unknown,
}

impl Database {
    /// Applies a provider's status report (`delivered`, `read`, `failed`)
    /// to the delivery with that provider message id, forward only.
    pub fn apply_provider_status(
        &self,
        channel: ChannelKind,
        provider_message_id: &str,
        next: DeliveryState,
        error: Option<&str>,
    ) -> Result<StatusApplied, StorageError> {
        let now = time::to_db(time::now());
        with_write_tx!(self, |c| {
            let found: Option<(i64, String)> = deliveries::table
                .filter(deliveries::channel.eq(channel.as_str()))
                .filter(deliveries::provider_message_id.eq(provider_message_id))
                .select((deliveries::id, deliveries::state))
                .first(c)
                .optional()?;
            let Some((id, state)) = found else {
                return Ok(StatusApplied::Unknown);
            };
            if !DeliveryState::parse(&state)?.can_become(next) {
                return Ok(StatusApplied::Ignored);
            }
            diesel::update(deliveries::table.find(id))
                .set((
                    deliveries::state.eq(next.as_str()),
                    deliveries::last_error.eq(error),
                    deliveries::updated_at.eq(now),
                ))
                .execute(c)?;
            Ok(StatusApplied::Applied)
        })
    }

    /// A failure the provider reported after taking a message, to be sent
    /// again: the delivery (sent or delivered, nothing further) goes back
    /// to the queue, due at `retry_at`, and its broadcast is active again.
    /// When `forget_window`, the recipient's last message is forgotten
    /// (their conversation window closed), so the next attempt uses the
    /// channel's template. After `max_attempts` attempts it fails instead.
    pub fn requeue_late_failure(
        &self,
        channel: ChannelKind,
        provider_message_id: &str,
        retry_at: chrono::DateTime<chrono::Utc>,
        error: &str,
        max_attempts: u32,
        forget_window: bool,
    ) -> Result<StatusApplied, StorageError> {
        let now = time::to_db(time::now());
        let at = time::to_db(retry_at);
        with_write_tx!(self, |c| {
            type Found = (i64, String, i32, Option<i64>, Option<i64>);
            let found: Option<Found> = deliveries::table
                .filter(deliveries::channel.eq(channel.as_str()))
                .filter(deliveries::provider_message_id.eq(provider_message_id))
                .select((
                    deliveries::id,
                    deliveries::state,
                    deliveries::attempts,
                    deliveries::broadcast_id,
                    deliveries::subscriber_id,
                ))
                .first(c)
                .optional()?;
            let Some((id, state, attempts, broadcast, subscriber)) = found else {
                return Ok(StatusApplied::Unknown);
            };
            let state = DeliveryState::parse(&state)?;
            if !matches!(state, DeliveryState::Sent | DeliveryState::Delivered) {
                return Ok(StatusApplied::Ignored);
            }
            if u32::try_from(attempts).unwrap_or(u32::MAX) >= max_attempts {
                diesel::update(deliveries::table.find(id))
                    .set((
                        deliveries::state.eq(DeliveryState::Failed.as_str()),
                        deliveries::last_error
                            .eq(format!("gave up after {attempts} attempts: {error}")),
                        deliveries::updated_at.eq(now),
                    ))
                    .execute(c)?;
                return Ok(StatusApplied::Applied);
            }
            diesel::update(deliveries::table.find(id))
                .set((
                    deliveries::state.eq(DeliveryState::Queued.as_str()),
                    deliveries::next_attempt_at.eq(at),
                    deliveries::last_error.eq(error),
                    deliveries::lease_owner.eq(None::<String>),
                    deliveries::lease_until.eq(None::<chrono::NaiveDateTime>),
                    deliveries::updated_at.eq(now),
                ))
                .execute(c)?;
            if let Some(b) = broadcast {
                diesel::update(
                    broadcasts::table
                        .find(b)
                        .filter(broadcasts::state.eq("done")),
                )
                .set(broadcasts::state.eq("active"))
                .execute(c)?;
            }
            if let (true, Some(s)) = (forget_window, subscriber) {
                diesel::update(subscribers::table.find(s))
                    .set(subscribers::last_inbound_at.eq(None::<chrono::NaiveDateTime>))
                    .execute(c)?;
            }
            Ok(StatusApplied::Applied)
        })
    }
}
