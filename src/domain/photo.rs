//! Photos residents send with their messages (seed 002: "only text and
//! photos are accepted"). The pixels are personal data: stored encrypted,
//! and `Debug` never prints them.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{Id, ImageFormat};

/// A stored photo, described without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    pub id: Id,
    /// The message it came with.
    pub message_id: Id,
    pub format: ImageFormat,
    /// Size of the stored (metadata-free) bytes.
    pub byte_length: u64,
    /// Hex SHA-256 of the stored bytes.
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    pub created_at: DateTime<Utc>,
}

/// A stored photo with its decrypted bytes, for staff.
#[derive(Clone, PartialEq, Eq)]
pub struct PhotoFile {
    pub photo: Photo,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for PhotoFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhotoFile")
            .field("photo", &self.photo)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// A checked photo ready to be stored: bytes of a known format, already
/// stripped of metadata by `crate::media`, their hash and dimensions.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPhoto {
    pub format: ImageFormat,
    pub bytes: Vec<u8>,
    /// Hex SHA-256 of `bytes`.
    pub sha256: String,
    pub width: u32,
    pub height: u32,
}

impl NewPhoto {
    /// Hashes the bytes.
    pub fn new(format: ImageFormat, bytes: Vec<u8>, width: u32, height: u32) -> Self {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        Self {
            format,
            bytes,
            sha256,
            width,
            height,
        }
    }
}

impl std::fmt::Debug for NewPhoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPhoto")
            .field("format", &self.format)
            .field("bytes", &self.bytes.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}
