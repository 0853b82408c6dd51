//! Photos residents send: the same checks and metadata stripping as
//! announcement images, with the conversation's size limit and without
//! alt text. What a resident's phone put into the file — camera, GPS
//! position, thumbnails, comments — is gone before the photo is stored.

use img_parts::{Bytes, DynImage};
use thiserror::Error;

use super::{sniff, strip};
use crate::domain::{ImageFormat, NewPhoto};

/// Why a resident's photo is not taken. The messages hold no content.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PhotoError {
    /// Larger than `conversations.max_photo_bytes`.
    #[error("the photo is {actual} bytes; at most {max} bytes are taken (conversations.max_photo_bytes)")]
    TooLarge { actual: u64, max: u64 },
    /// Nothing arrived.
    #[error("the photo is empty")]
    Empty,
    /// Not a JPEG, PNG or WebP image by its content.
    #[error("the file is not a JPEG, PNG or WebP image (its content is {detected})")]
    NotAnImage { detected: String },
    /// Starts like an image but cannot be taken apart.
    #[error("the photo is a damaged {format} file ({reason})")]
    Damaged { format: ImageFormat, reason: String },
}

/// Checks a photo (size, format by its magic bytes) and strips its
/// metadata without re-encoding; returns it with hash and dimensions.
pub fn prepare_photo(bytes: Vec<u8>, max_bytes: u64) -> Result<NewPhoto, PhotoError> {
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size == 0 {
        return Err(PhotoError::Empty);
    }
    if size > max_bytes {
        return Err(PhotoError::TooLarge {
            actual: size,
            max: max_bytes,
        });
    }
    let format = sniff(&bytes).map_err(|detected| PhotoError::NotAnImage { detected })?;
    let damaged = |reason: String| PhotoError::Damaged { format, reason };
    let stripped = strip::strip(format, bytes).map_err(damaged)?;
    let (width, height) = DynImage::from_bytes(Bytes::copy_from_slice(&stripped))
        .ok()
        .flatten()
        .and_then(|image| image.dimensions())
        .filter(|(w, h)| *w > 0 && *h > 0)
        .ok_or_else(|| damaged("no image dimensions".into()))?;
    Ok(NewPhoto::new(format, stripped, width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals() {
        assert_eq!(prepare_photo(Vec::new(), 4096), Err(PhotoError::Empty));
        assert_eq!(
            prepare_photo(vec![0xFF; 4097], 4096),
            Err(PhotoError::TooLarge {
                actual: 4097,
                max: 4096
            })
        );
        assert!(matches!(
            prepare_photo(b"Hallo, kein Bild".to_vec(), 4096),
            Err(PhotoError::NotAnImage { detected }) if detected == "text"
        ));
        assert!(matches!(
            prepare_photo(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec(), 4096),
            Err(PhotoError::NotAnImage { .. })
        ));
        assert!(matches!(
            prepare_photo(b"\xFF\xD8\xFF\xE0\x00".to_vec(), 4096),
            Err(PhotoError::Damaged {
                format: ImageFormat::Jpeg,
                ..
            })
        ));
    }
}
