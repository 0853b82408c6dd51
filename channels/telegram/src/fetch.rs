//! Fetching a file a resident sent: `getFile`, then the download from
//! `{api_url}/file/bot{token}/{file_path}`, never reading more than asked.

use herold_channel_api::{FetchError, FetchedMedia, SendError};
use serde::{Deserialize, Serialize};

use crate::map::{map_error, network_error, ApiResponse, Target};

/// The Bot API serves files up to 20 MB; `getFile` answers larger ones
/// with this description.
const TOO_BIG: &str = "file is too big";

/// The `File` object `getFile` returns.
#[derive(Deserialize)]
struct File {
    #[serde(default)]
    file_size: Option<u64>,
    #[serde(default)]
    file_path: Option<String>,
}

/// Where the Bot API is reached; both URLs hold the token and are never
/// shown.
pub(crate) struct FileApi<'a> {
    pub client: &'a reqwest::Client,
    /// `{api_url}/bot{token}/`.
    pub methods: &'a str,
    /// `{api_url}/file/bot{token}/`.
    pub files: &'a str,
}

impl FileApi<'_> {
    /// `getFile`, a size check, then the download, cut off after `max` bytes.
    pub(crate) async fn fetch(&self, file_id: &str, max: u64) -> Result<FetchedMedia, FetchError> {
        let file = self.get_file(file_id, max).await?;
        if let Some(size) = file.file_size.filter(|s| *s > max) {
            return Err(FetchError::TooLarge {
                size: Some(size),
                max,
            });
        }
        let path = file.file_path.ok_or_else(|| {
            SendError::permanent(
                "Telegram gave no file_path for the file (it cannot be downloaded)",
            )
        })?;
        if !is_safe_path(&path) {
            return Err(SendError::permanent("Telegram gave an unusable file_path").into());
        }
        self.download(&path, max).await
    }

    async fn get_file(&self, file_id: &str, max: u64) -> Result<File, FetchError> {
        #[derive(Serialize)]
        struct GetFile<'a> {
            file_id: &'a str,
        }
        let response = self
            .client
            .post(format!("{}getFile", self.methods))
            .json(&GetFile { file_id })
            .send()
            .await
            .map_err(|e| network_error(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| network_error(&e))?;
        if !status.is_success() {
            let described_too_big =
                serde_json::from_slice::<ApiResponse<serde_json::Value>>(&bytes)
                    .ok()
                    .and_then(|r| r.description)
                    .is_some_and(|d| d.to_ascii_lowercase().contains(TOO_BIG));
            if described_too_big {
                return Err(FetchError::TooLarge { size: None, max });
            }
            return Err(map_error(status.as_u16(), &bytes, Target::Recipient).into());
        }
        serde_json::from_slice::<ApiResponse<File>>(&bytes)
            .ok()
            .filter(|r| r.ok)
            .and_then(|r| r.result)
            .ok_or_else(|| SendError::transient("unreadable getFile answer from Telegram").into())
    }

    async fn download(&self, path: &str, max: u64) -> Result<FetchedMedia, FetchError> {
        let mut response = self
            .client
            .get(format!("{}{path}", self.files))
            .send()
            .await
            .map_err(|e| network_error(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(download_error(status.as_u16()).into());
        }
        if let Some(size) = response.content_length().filter(|s| *s > max) {
            return Err(FetchError::TooLarge {
                size: Some(size),
                max,
            });
        }
        let mime_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_ascii_lowercase())
            .filter(|v| v.starts_with("image/"));
        // The declared length may be absent or wrong: count what arrives.
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| network_error(&e))? {
            let total = u64::try_from(bytes.len() + chunk.len()).unwrap_or(u64::MAX);
            if total > max {
                return Err(FetchError::TooLarge { size: None, max });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(FetchedMedia { bytes, mime_type })
    }
}

/// A failed download: Telegram's file server answers with a bare status.
fn download_error(status: u16) -> SendError {
    match status {
        401 => SendError::Misconfigured {
            reason: "Telegram rejected the bot token (401 Unauthorized)".into(),
        },
        429 => SendError::RateLimited { retry_after: None },
        500..=599 => SendError::transient(format!("Telegram file server error ({status})")),
        // A file link is valid for an hour; a missing file does not return.
        _ => SendError::permanent(format!("Telegram did not serve the file ({status})")),
    }
}

/// Telegram's file paths look like `photos/file_12.jpg`: a relative path
/// of plain characters, nothing that leaves the bot's file directory or
/// changes the URL's meaning.
fn is_safe_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 512
        && !path.starts_with('/')
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '.'))
        && !path
            .split('/')
            .any(|segment| segment.is_empty() || segment == "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths() {
        assert!(is_safe_path("photos/file_12.jpg"));
        assert!(is_safe_path("documents/a-b.c.png"));
        for bad in [
            "",
            "/etc/passwd",
            "photos/../../bot",
            "photos//a.jpg",
            "a.jpg?x=1",
            "a.jpg#f",
            "http://evil.example/a.jpg",
            "photos/a b.jpg",
        ] {
            assert!(!is_safe_path(bad), "{bad}");
        }
    }

    #[test]
    fn download_errors() {
        assert!(matches!(
            download_error(401),
            SendError::Misconfigured { .. }
        ));
        assert!(matches!(download_error(502), SendError::Transient { .. }));
        assert!(matches!(download_error(404), SendError::Permanent { .. }));
        assert!(matches!(download_error(429), SendError::RateLimited { .. }));
    }
}
