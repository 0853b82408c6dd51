//! Images staff attach to announcements: read with a size limit, the format
//! recognised from the content (never the file name), and metadata stripped
//! without re-encoding, so photos the town publishes carry no camera,
//! location or author data. Photos residents send go through the same
//! checks ([`prepare_photo`]).

mod jpeg_tail;
mod photo;
mod strip;

pub use photo::{prepare_photo, PhotoError};

use std::{io::Read, path::Path};
use thiserror::Error;

use crate::{
    config::MediaConfig,
    domain::{DomainError, ImageFormat, NewImage},
};

/// Why an image cannot be published. Messages name the file and what was
/// expected.
#[derive(Debug, Error)]
pub enum ImageError {
    /// The file could not be read.
    #[error("cannot read --image {name}: {reason}")]
    Read { name: String, reason: String },
    /// The file is empty.
    #[error("--image {name} is empty: expected a JPEG, PNG or WebP image")]
    Empty { name: String },
    /// The file is larger than `media.max_image_bytes`.
    #[error("--image {name} is {actual} bytes; at most {max} bytes are allowed (media.max_image_bytes): expected a smaller JPEG, PNG or WebP image")]
    TooLarge { name: String, actual: u64, max: u64 },
    /// The content is not a format Herold publishes.
    #[error("--image {name} is not a JPEG, PNG or WebP image (its content is {detected}): expected one of these formats, recognised by content, not by file name")]
    Unsupported { name: String, detected: String },
    /// The content starts like an image but cannot be taken apart.
    #[error("--image {name} is a damaged {format} file ({reason}): expected a complete image")]
    Damaged {
        name: String,
        format: ImageFormat,
        reason: String,
    },
    /// The alt text is missing or unfit.
    #[error(transparent)]
    Alt(#[from] DomainError),
}

/// Reads an image file, refusing files over the configured limit before
/// reading them whole.
pub fn read_file(path: &Path, config: &MediaConfig) -> Result<Vec<u8>, ImageError> {
    let name = path.display().to_string();
    let read_error = |e: std::io::Error| ImageError::Read {
        name: name.clone(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let max = config.max_image_bytes;
    let too_large = |actual| ImageError::TooLarge {
        name: name.clone(),
        actual,
        max,
    };
    let size = file.metadata().map_err(read_error)?.len();
    if size > max {
        return Err(too_large(size));
    }
    // The file may grow while it is read: never take more than max + 1.
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    let read = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if read > max {
        return Err(too_large(read));
    }
    Ok(bytes)
}

/// Checks an image (`name` is how staff know it, e.g. the file name) and
/// prepares it for storage: size limit, format from the magic bytes, alt
/// text, and metadata stripped.
pub fn prepare(
    name: &str,
    bytes: Vec<u8>,
    alt: &str,
    config: &MediaConfig,
) -> Result<NewImage, ImageError> {
    let alt = crate::domain::check_alt(alt)?;
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size == 0 {
        return Err(ImageError::Empty { name: name.into() });
    }
    if size > config.max_image_bytes {
        return Err(ImageError::TooLarge {
            name: name.into(),
            actual: size,
            max: config.max_image_bytes,
        });
    }
    let format = sniff(&bytes).map_err(|detected| ImageError::Unsupported {
        name: name.into(),
        detected,
    })?;
    let stripped = strip::strip(format, bytes).map_err(|reason| ImageError::Damaged {
        name: name.into(),
        format,
        reason,
    })?;
    Ok(NewImage::new(format, stripped, &alt)?)
}

/// The format from the content's magic bytes; otherwise what the content
/// appears to be, for the message.
fn sniff(bytes: &[u8]) -> Result<ImageFormat, String> {
    match infer::get(bytes) {
        Some(t) => match ImageFormat::from_mime_type(t.mime_type()) {
            Some(f) => Ok(f),
            None if t.mime_type() == "image/gif" => {
                Err("a GIF image, which Herold cannot strip of metadata".into())
            }
            None => Err(t.mime_type().to_owned()),
        },
        None if std::str::from_utf8(bytes).is_ok() => Err("text".into()),
        None => Err("not a recognised file format".into()),
    }
}

/// Entry points for the fuzz targets (`fuzz/`), through [`crate::fuzzing`].
#[cfg(feature = "fuzzing")]
pub(crate) mod fuzzing {
    use crate::domain::ImageFormat;

    /// The JPEG tail walker on `data` (what follows a first scan header).
    pub(crate) fn jpeg_tail(data: &[u8]) -> Result<Vec<u8>, String> {
        super::jpeg_tail::clean(data).map(|b| b.to_vec())
    }

    /// The format by magic bytes, as uploads and photos are recognised.
    pub(crate) fn sniff(bytes: &[u8]) -> Result<ImageFormat, String> {
        super::sniff(bytes)
    }

    /// The metadata stripper for `format`.
    pub(crate) fn strip(format: ImageFormat, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        super::strip::strip(format, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> MediaConfig {
        MediaConfig {
            max_image_bytes: 4096,
        }
    }

    #[test]
    fn format_comes_from_content_not_name() {
        let err = prepare("foto.jpg", b"Hallo, kein Bild".to_vec(), "Bild", &config())
            .unwrap_err()
            .to_string();
        assert!(err.contains("foto.jpg"), "{err}");
        assert!(err.contains("its content is text"), "{err}");
        let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
        let err = prepare("scan.png", pdf, "Bild", &config())
            .unwrap_err()
            .to_string();
        assert!(err.contains("application/pdf"), "{err}");
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
        let err = prepare("a.gif", gif, "Bild", &config())
            .unwrap_err()
            .to_string();
        assert!(err.contains("GIF"), "{err}");
    }

    #[test]
    fn size_alt_and_damage() {
        let big = vec![0xFF; 4097];
        assert!(matches!(
            prepare("x.jpg", big, "Bild", &config()),
            Err(ImageError::TooLarge {
                actual: 4097,
                max: 4096,
                ..
            })
        ));
        assert!(matches!(
            prepare("x.jpg", Vec::new(), "Bild", &config()),
            Err(ImageError::Empty { .. })
        ));
        assert!(matches!(
            prepare("x.jpg", b"\xFF\xD8\xFF\xE0".to_vec(), " ", &config()),
            Err(ImageError::Alt(DomainError::Empty { .. }))
        ));
        // A JPEG signature followed by nothing usable.
        let err = prepare("x.jpg", b"\xFF\xD8\xFF\xE0\x00".to_vec(), "Bild", &config())
            .unwrap_err()
            .to_string();
        assert!(err.contains("damaged JPEG"), "{err}");
    }

    #[test]
    fn read_file_refuses_large_files_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.jpg");
        std::fs::write(&p, vec![0u8; 5000]).unwrap();
        assert!(matches!(
            read_file(&p, &config()),
            Err(ImageError::TooLarge { actual: 5000, .. })
        ));
        let err = read_file(&dir.path().join("missing.jpg"), &config())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cannot read --image"), "{err}");
    }
}
