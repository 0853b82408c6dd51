//! Thin entry points for the fuzz targets in `fuzz/` (cargo-fuzz), only
//! with the `fuzzing` feature: the private parsers the public API does not
//! reach directly. Everything else the targets call is public already.

use crate::{config::Config, config::ConfigError, domain::ImageFormat, media};

pub use crate::render::format::markup_check::{check_markup, Markup, MATRIX, TELEGRAM};

/// The hand-written JPEG tail walker (`media::jpeg_tail`) on `data`, the
/// bytes after a first scan header: the kept bytes, or why it refused.
pub fn jpeg_tail(data: &[u8]) -> Result<Vec<u8>, String> {
    media::fuzzing::jpeg_tail(data)
}

/// The image format recognised from `bytes`' content, as for uploads.
pub fn sniff_image(bytes: &[u8]) -> Result<ImageFormat, String> {
    media::fuzzing::sniff(bytes)
}

/// The metadata stripper (`media::strip`) for `format` on `bytes`.
pub fn strip_image(format: ImageFormat, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    media::fuzzing::strip(format, bytes)
}

/// The configuration from TOML text over the defaults, validated, as
/// `Config::load` reads a file (environment variables left out).
pub fn config_from_toml(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text)
}
