//! The optional image of an announcement: its format, size, hash and the
//! alt text residents who cannot see it are read instead.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{DomainError, Id};

/// Longest alt text. Screen readers read it in full; a sentence or two
/// describes a picture, longer text belongs in the body.
pub const ALT_MAX_CHARS: usize = 300;

/// The image formats Herold publishes: what every browser, feed reader and
/// messenger shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Jpeg,
    Png,
    Webp,
}

impl ImageFormat {
    /// Every format, for messages and checks.
    pub const ALL: [Self; 3] = [Self::Jpeg, Self::Png, Self::Webp];

    /// The MIME type, e.g. `image/jpeg`.
    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
        }
    }

    /// Human name, e.g. `JPEG`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::Webp => "WebP",
        }
    }

    /// The format of a MIME type, if Herold publishes it.
    pub fn from_mime_type(mime: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.mime_type() == mime)
    }
}

impl std::fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A stored image, as announcements refer to it (without its bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub id: Id,
    pub format: ImageFormat,
    /// Size of the stored (metadata-free) bytes.
    pub byte_length: u64,
    /// Hex SHA-256 of the stored bytes.
    pub sha256: String,
    /// What the picture shows, for residents who cannot see it.
    pub alt: String,
}

/// A stored image with its bytes, as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFile {
    pub image: Image,
    pub bytes: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// A checked image ready to be stored with a new announcement: bytes of a
/// known format (already stripped of metadata by `crate::media`), their
/// hash, and alt text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewImage {
    pub format: ImageFormat,
    pub bytes: Vec<u8>,
    /// Hex SHA-256 of `bytes`.
    pub sha256: String,
    pub alt: String,
}

impl NewImage {
    /// Checks the alt text and hashes the bytes.
    pub fn new(format: ImageFormat, bytes: Vec<u8>, alt: &str) -> Result<Self, DomainError> {
        let alt = check_alt(alt)?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        Ok(Self {
            format,
            bytes,
            sha256,
            alt,
        })
    }
}

/// Alt text must say something (accessibility), in one line of at most
/// [`ALT_MAX_CHARS`] characters.
pub fn check_alt(alt: &str) -> Result<String, DomainError> {
    const FIELD: &str = "image alt text (--image-alt)";
    let alt = alt.trim();
    if alt.is_empty() {
        return Err(DomainError::Empty { field: FIELD });
    }
    let n = alt.chars().count();
    if n > ALT_MAX_CHARS {
        return Err(DomainError::TooLong {
            field: FIELD,
            max: ALT_MAX_CHARS,
            actual: n,
        });
    }
    if alt.chars().any(char::is_control) {
        return Err(DomainError::Invalid {
            field: FIELD,
            value: alt.chars().filter(|c| !c.is_control()).collect(),
            expected: "one line of text describing the picture",
        });
    }
    Ok(alt.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alt_text_is_required_and_bounded() {
        assert_eq!(
            check_alt("  "),
            Err(DomainError::Empty {
                field: "image alt text (--image-alt)"
            })
        );
        assert!(matches!(
            check_alt(&"x".repeat(ALT_MAX_CHARS + 1)),
            Err(DomainError::TooLong { actual, .. }) if actual == ALT_MAX_CHARS + 1
        ));
        assert!(matches!(
            check_alt("zwei\nZeilen"),
            Err(DomainError::Invalid { .. })
        ));
        assert_eq!(
            check_alt(" Baustelle an der Hauptstraße ").as_deref(),
            Ok("Baustelle an der Hauptstraße")
        );
    }

    #[test]
    fn hash_and_formats() {
        let img = NewImage::new(ImageFormat::Png, b"abc".to_vec(), "Bild").unwrap();
        assert_eq!(
            img.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        for f in ImageFormat::ALL {
            assert_eq!(ImageFormat::from_mime_type(f.mime_type()), Some(f));
        }
        assert_eq!(ImageFormat::from_mime_type("image/gif"), None);
    }
}
