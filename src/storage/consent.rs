//! The append-only consent ledger.

use diesel::prelude::*;

use super::{
    schema::{consent_events, subscribers},
    time, with_conn, Database, StorageError,
};
use crate::domain::{ConsentEvent, ConsentKind, Id, NewConsentEvent};

#[derive(Queryable, Selectable)]
#[diesel(table_name = consent_events)]
struct Row {
    id: i64,
    subscriber_id: Option<i64>,
    pseudonym: Option<String>,
    channel: String,
    kind: String,
    categories: String,
    wording_version: String,
    occurred_at: chrono::NaiveDateTime,
    evidence: Option<String>,
}

impl TryFrom<Row> for ConsentEvent {
    type Error = StorageError;
    fn try_from(r: Row) -> Result<Self, StorageError> {
        Ok(ConsentEvent {
            id: r.id,
            subscriber_id: r.subscriber_id,
            pseudonym: r.pseudonym,
            channel: r
                .channel
                .parse()
                .map_err(|e: herold_channel_api::UnknownChannel| {
                    StorageError::Refused(e.to_string())
                })?,
            kind: ConsentKind::parse(&r.kind)?,
            categories: r
                .categories
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            wording_version: r.wording_version,
            occurred_at: time::from_db(r.occurred_at),
            evidence: r.evidence,
        })
    }
}

impl Database {
    /// Appends a consent event for a subscriber (their pseudonym is copied
    /// in, so the ledger reads on its own).
    pub fn append_consent(&self, e: &NewConsentEvent) -> Result<ConsentEvent, StorageError> {
        let subscriber = self.get_subscriber(e.subscriber_id)?;
        let row: Row = with_conn!(self, |c| diesel::insert_into(consent_events::table)
            .values((
                consent_events::subscriber_id.eq(Some(e.subscriber_id)),
                consent_events::pseudonym.eq(Some(subscriber.pseudonym.as_str())),
                consent_events::channel.eq(e.channel.as_str()),
                consent_events::kind.eq(e.kind.as_str()),
                consent_events::categories.eq(e.categories.join(",")),
                consent_events::wording_version.eq(&e.wording_version),
                consent_events::occurred_at.eq(time::to_db(e.occurred_at)),
                consent_events::evidence.eq(&e.evidence),
            ))
            .returning(Row::as_returning())
            .get_result(c)?);
        row.try_into()
    }

    /// A subscriber's consent history, oldest first.
    pub fn consent_events_of(&self, subscriber_id: Id) -> Result<Vec<ConsentEvent>, StorageError> {
        let rows: Vec<Row> = with_conn!(self, |c| consent_events::table
            .filter(consent_events::subscriber_id.eq(subscriber_id))
            .order(consent_events::id.asc())
            .select(Row::as_select())
            .load(c)?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The whole ledger after `after_id`, oldest first, at most `limit`
    /// events (for reports and export).
    pub fn consent_ledger(
        &self,
        after_id: Id,
        limit: i64,
    ) -> Result<Vec<ConsentEvent>, StorageError> {
        let rows: Vec<Row> = with_conn!(self, |c| consent_events::table
            .filter(consent_events::id.gt(after_id))
            .order(consent_events::id.asc())
            .limit(limit)
            .select(Row::as_select())
            .load(c)?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The events of each of `ids`, oldest first, in one query per 500
    /// subscribers (for reports over many).
    pub fn consent_events_of_many(
        &self,
        ids: &[Id],
    ) -> Result<std::collections::HashMap<Id, Vec<ConsentEvent>>, StorageError> {
        let mut out: std::collections::HashMap<Id, Vec<ConsentEvent>> =
            std::collections::HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let rows: Vec<Row> = with_conn!(self, |c| consent_events::table
                .filter(consent_events::subscriber_id.eq_any(chunk))
                .order(consent_events::id.asc())
                .select(Row::as_select())
                .load(c)?);
            for row in rows {
                let e: ConsentEvent = row.try_into()?;
                if let Some(id) = e.subscriber_id {
                    out.entry(id).or_default().push(e);
                }
            }
        }
        Ok(out)
    }

    /// The ledger's events with `from <= occurred_at < to`, oldest first.
    pub fn consent_events_between(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<ConsentEvent>, StorageError> {
        let (from, to) = (time::to_db(from), time::to_db(to));
        let rows: Vec<Row> = with_conn!(self, |c| consent_events::table
            .filter(consent_events::occurred_at.ge(from))
            .filter(consent_events::occurred_at.lt(to))
            .order(consent_events::id.asc())
            .select(Row::as_select())
            .load(c)?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The subscribers active at `at` — confirmed by then and not ended by
    /// then — with their channel and pseudonym (none once erased).
    pub fn subscribers_active_at(
        &self,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<(Id, String, Option<String>)>, StorageError> {
        let at = time::to_db(at);
        Ok(with_conn!(self, |c| subscribers::table
            .filter(subscribers::confirmed_at.le(at))
            .filter(
                subscribers::ended_at
                    .is_null()
                    .or(subscribers::ended_at.gt(at))
            )
            .order(subscribers::id.asc())
            .select((
                subscribers::id,
                subscribers::channel,
                subscribers::pseudonym
            ))
            .load(c)?))
    }
}
