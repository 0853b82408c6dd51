//! Images of announcements as residents get them.

use chrono::{DateTime, Utc};

use super::{Herold, ServiceError};
use crate::domain::{Id, Image, ImageFile};

impl Herold {
    /// The public URL of an image: `{public_url}media/{id}.{ext}`.
    pub fn image_url(&self, image: &Image) -> String {
        self.public_url(&image_path(image))
    }

    /// An image with its bytes, if a published announcement shows it and
    /// `ext` (if given) is its format's extension; `None` otherwise, so
    /// images of scheduled announcements never leak.
    pub fn public_image(
        &self,
        id: Id,
        ext: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<ImageFile>, ServiceError> {
        let found = self.db.published_image(id, now)?;
        Ok(found.filter(|f| ext.is_none_or(|e| e == f.image.format.extension())))
    }
}

/// The site-relative path of an image, as the web server routes it.
pub fn image_path(image: &Image) -> String {
    format!("media/{}.{}", image.id, image.format.extension())
}
