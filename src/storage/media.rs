//! Images of announcements: bytes in the `media` table (immutable, never
//! deleted), referenced by `announcements.image_id`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{
    schema::{announcements, media},
    time, with_conn, Database, StorageError,
};
use crate::domain::{DomainError, Id, Image, ImageFile, ImageFormat};

/// An image's columns without its bytes (what announcements carry).
#[derive(Queryable, Selectable)]
#[diesel(table_name = media)]
pub(super) struct ImageRow {
    pub(super) id: i64,
    mime_type: String,
    byte_length: i64,
    sha256: String,
    alt_text: String,
}

impl TryFrom<ImageRow> for Image {
    type Error = StorageError;
    fn try_from(r: ImageRow) -> Result<Self, StorageError> {
        let format =
            ImageFormat::from_mime_type(&r.mime_type).ok_or_else(|| DomainError::Invalid {
                field: "media.mime_type",
                value: r.mime_type.clone(),
                expected: "image/jpeg, image/png or image/webp",
            })?;
        Ok(Image {
            id: r.id,
            format,
            byte_length: u64::try_from(r.byte_length).unwrap_or(0),
            sha256: r.sha256,
            alt: r.alt_text,
        })
    }
}

/// Inserts a checked image inside an open transaction and returns its row;
/// a macro so it compiles for both connection types (see `with_conn!`).
macro_rules! insert_image_tx {
    ($c:expr, $image:expr, $now:expr) => {{
        let image: &$crate::domain::NewImage = $image;
        let row: $crate::storage::media::ImageRow =
            diesel::insert_into($crate::storage::schema::media::table)
                .values((
                    $crate::storage::schema::media::mime_type.eq(image.format.mime_type()),
                    $crate::storage::schema::media::byte_length
                        .eq(i64::try_from(image.bytes.len()).unwrap_or(i64::MAX)),
                    $crate::storage::schema::media::sha256.eq(&image.sha256),
                    $crate::storage::schema::media::bytes.eq(&image.bytes),
                    $crate::storage::schema::media::alt_text.eq(&image.alt),
                    $crate::storage::schema::media::created_at.eq($now),
                ))
                .returning($crate::storage::media::ImageRow::as_returning())
                .get_result($c)?;
        row
    }};
}
pub(super) use insert_image_tx;

#[derive(Queryable, Selectable)]
#[diesel(table_name = media)]
struct FileRow {
    #[diesel(embed)]
    image: ImageRow,
    bytes: Vec<u8>,
    created_at: chrono::NaiveDateTime,
}

impl Database {
    /// An image with its bytes, if some announcement published by `now`
    /// (and not cancelled) shows it; images of scheduled announcements stay
    /// hidden like the announcements themselves.
    pub fn published_image(
        &self,
        id: Id,
        now: DateTime<Utc>,
    ) -> Result<Option<ImageFile>, StorageError> {
        let now = time::to_db(now);
        let row: Option<FileRow> = with_conn!(self, |c| media::table
            .filter(media::id.eq(id))
            .filter(diesel::dsl::exists(
                announcements::table
                    .filter(announcements::image_id.eq(media::id.nullable()))
                    .filter(announcements::publish_at.le(now))
                    .filter(announcements::cancelled_at.is_null()),
            ))
            .select(FileRow::as_select())
            .first(c)
            .optional()?);
        row.map(|r| {
            Ok(ImageFile {
                image: r.image.try_into()?,
                bytes: r.bytes,
                created_at: time::from_db(r.created_at),
            })
        })
        .transpose()
    }

    /// The bytes of image `id`, whoever may see it (staff editing a
    /// scheduled announcement).
    pub fn image_bytes(&self, id: Id) -> Result<Vec<u8>, StorageError> {
        let bytes: Option<Vec<u8>> = with_conn!(self, |c| media::table
            .filter(media::id.eq(id))
            .select(media::bytes)
            .first(c)
            .optional()?);
        bytes.ok_or_else(|| StorageError::NotFound {
            what: format!("image {id}"),
        })
    }
}
