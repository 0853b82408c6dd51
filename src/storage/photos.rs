//! Photos residents sent with their messages (`conversation_photos`): one
//! per message, encrypted, deleted with the message (ON DELETE CASCADE).

use diesel::prelude::*;

use super::{
    error::OrNotFound,
    schema::{conversation_photos, messages},
    time, with_conn, Database, StorageError,
};
use crate::domain::{DomainError, Id, ImageFormat, Photo, PhotoFile};

/// A photo's columns without its bytes.
#[derive(Queryable, Selectable)]
#[diesel(table_name = conversation_photos)]
pub(super) struct PhotoRow {
    id: i64,
    message_id: i64,
    mime_type: String,
    byte_length: i64,
    sha256: String,
    width: i64,
    height: i64,
    created_at: chrono::NaiveDateTime,
}

impl TryFrom<PhotoRow> for Photo {
    type Error = StorageError;
    fn try_from(r: PhotoRow) -> Result<Self, StorageError> {
        let format =
            ImageFormat::from_mime_type(&r.mime_type).ok_or_else(|| DomainError::Invalid {
                field: "conversation_photos.mime_type",
                value: r.mime_type.clone(),
                expected: "image/jpeg, image/png or image/webp",
            })?;
        Ok(Photo {
            id: r.id,
            message_id: r.message_id,
            format,
            byte_length: u64::try_from(r.byte_length).unwrap_or(0),
            sha256: r.sha256,
            width: u32::try_from(r.width).unwrap_or(0),
            height: u32::try_from(r.height).unwrap_or(0),
            created_at: time::from_db(r.created_at),
        })
    }
}

/// Inserts the photo of message `$message_id` inside the caller's
/// transaction: `$photo` is a [`crate::domain::NewPhoto`], `$ciphertext`
/// its bytes encrypted with the keyring. A macro so it compiles for both
/// connection types (see `with_conn!`).
macro_rules! insert_photo_tx {
    ($c:expr, $db:expr, $message_id:expr, $photo:expr, $now:expr) => {{
        use $crate::storage::schema::conversation_photos as p;
        let photo: &$crate::domain::NewPhoto = $photo;
        // Sealed to its row, whose id the insert gives.
        let id: i64 = diesel::insert_into(p::table)
            .values((
                p::message_id.eq($message_id),
                p::mime_type.eq(photo.format.mime_type()),
                p::byte_length.eq(i64::try_from(photo.bytes.len()).unwrap_or(i64::MAX)),
                p::sha256.eq(&photo.sha256),
                p::width.eq(i64::from(photo.width)),
                p::height.eq(i64::from(photo.height)),
                p::ciphertext.eq(Vec::<u8>::new()),
                p::created_at.eq($now),
            ))
            .returning(p::id)
            .get_result($c)?;
        diesel::update(p::table.find(id))
            .set(p::ciphertext.eq($db.seal(&photo.bytes, &$crate::storage::sealed::photo(id))))
            .execute($c)?
    }};
}
pub(super) use insert_photo_tx;

impl Database {
    /// The photos of a conversation's messages, oldest first, without bytes.
    pub fn photos_of(&self, conversation_id: Id) -> Result<Vec<Photo>, StorageError> {
        let rows: Vec<PhotoRow> = with_conn!(self, |c| conversation_photos::table
            .inner_join(messages::table)
            .filter(messages::conversation_id.eq(conversation_id))
            .order(conversation_photos::id.asc())
            .select(PhotoRow::as_select())
            .load(c)?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// One photo with its decrypted bytes.
    pub fn photo_file(&self, id: Id) -> Result<PhotoFile, StorageError> {
        let row: Option<(PhotoRow, Vec<u8>)> = with_conn!(self, |c| conversation_photos::table
            .find(id)
            .select((PhotoRow::as_select(), conversation_photos::ciphertext))
            .first(c)
            .optional()?);
        let (row, ciphertext) = row.or_not_found(|| format!("photo {id}"))?;
        Ok(PhotoFile {
            photo: row.try_into()?,
            bytes: self.open_sealed(&ciphertext, &super::sealed::photo(id))?,
        })
    }
}
