//! Media: downloading what residents send (decrypting it when it came from
//! an encrypted room) without reading more than allowed, and uploading the
//! announcement's image once for every room.
//!
//! The download is made here rather than with matrix-sdk's media API,
//! which reads a file whole before anyone can look at its size; this one
//! stops at `max_bytes`. It uses the authenticated media endpoint
//! (`/_matrix/client/v1/media/download`, Matrix 1.11), the one Synapse
//! requires for new media.

use std::io::Read;

use herold_channel_api::{FetchError, FetchedMedia, SendError};
use matrix_sdk::reqwest;
use matrix_sdk::Client;

use crate::inbound::MediaRef;

/// Reads the [`MediaRef`] of a resident's image, downloads it (at most
/// `max` bytes) and decrypts it if it is an encrypted file.
pub(crate) async fn fetch(
    http: &reqwest::Client,
    client: &Client,
    media_id: &str,
    max: u64,
) -> Result<FetchedMedia, FetchError> {
    let media: MediaRef = serde_json::from_str(media_id)
        .map_err(|_| SendError::permanent("not a Matrix media reference"))?;
    if let Some(size) = media.size.filter(|s| *s > max) {
        return Err(FetchError::TooLarge {
            size: Some(size),
            max,
        });
    }
    let encrypted = match &media.file {
        Some(file) => Some(
            serde_json::from_value::<matrix_sdk::ruma::events::room::EncryptedFile>(file.clone())
                .map_err(|_| SendError::permanent("the encrypted file's description is unusable"))?,
        ),
        None => None,
    };
    let mxc = match (&encrypted, &media.url) {
        (Some(file), _) => file.url.to_string(),
        (None, Some(url)) => url.clone(),
        (None, None) => return Err(SendError::permanent("the image has no mxc:// URL").into()),
    };
    let bytes = download(http, client, &mxc, max).await?;
    let Some(file) = encrypted else {
        return Ok(FetchedMedia {
            bytes,
            mime_type: None,
        });
    };
    let mut cursor = std::io::Cursor::new(bytes);
    let mut decryptor = matrix_sdk_crypto::AttachmentDecryptor::new(&mut cursor, file.into())
        .map_err(|_| SendError::permanent("the encrypted image cannot be decrypted"))?;
    let mut plain = Vec::new();
    // Reading to the end checks the file's SHA-256 hash as well.
    decryptor
        .read_to_end(&mut plain)
        .map_err(|_| SendError::permanent("the encrypted image does not match its hash"))?;
    Ok(FetchedMedia {
        bytes: plain,
        mime_type: None,
    })
}

/// Largest announcement image the bot uploads (Synapse's default upload
/// limit is 50 MiB; the renderer's images are far smaller).
pub(crate) const MAX_UPLOAD: u64 = 20 * 1024 * 1024;

/// An announcement image on the homeserver.
#[derive(Debug, Clone)]
pub(crate) struct Uploaded {
    pub mxc: matrix_sdk::ruma::OwnedMxcUri,
    pub size: u64,
}

/// Fetches the image at `url` (Herold's own media URL) and uploads it to
/// the homeserver's media repository.
pub(crate) async fn upload(
    http: &reqwest::Client,
    client: &Client,
    url: &str,
    mime_type: &str,
) -> Result<Uploaded, SendError> {
    let mime: mime::Mime = mime_type
        .parse()
        .map_err(|_| SendError::permanent("the image has no usable MIME type"))?;
    let mut response = http
        .get(url)
        .send()
        .await
        .map_err(|_| SendError::transient("cannot fetch the announcement's image"))?;
    if !response.status().is_success() {
        let status = response.status().as_u16();
        return Err(if status >= 500 {
            SendError::transient(format!("the announcement's image answered {status}"))
        } else {
            SendError::permanent(format!("the announcement's image answered {status}"))
        });
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| SendError::transient("cannot fetch the announcement's image"))?
    {
        if bytes.len() as u64 + chunk.len() as u64 > MAX_UPLOAD {
            return Err(SendError::permanent(
                "the announcement's image is larger than 20 MiB",
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    let size = bytes.len() as u64;
    let uploaded = client
        .media()
        .upload(&mime, bytes, None)
        .await
        .map_err(|e| crate::map::send_error(&e, crate::map::Place::Follow))?;
    Ok(Uploaded {
        mxc: uploaded.content_uri,
        size,
    })
}

/// `mxc://server/id` split into its two parts, if both are plain.
fn parse_mxc(mxc: &str) -> Option<(&str, &str)> {
    let rest = mxc.strip_prefix("mxc://")?;
    let (server, id) = rest.split_once('/')?;
    let plain = |s: &str, extra: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c) || extra.contains(c))
    };
    (plain(server, ":[]") && plain(id, "")).then_some((server, id))
}

/// Downloads `mxc` with the bot's token, refusing more than `max` bytes.
async fn download(
    http: &reqwest::Client,
    client: &Client,
    mxc: &str,
    max: u64,
) -> Result<Vec<u8>, FetchError> {
    let (server, id) =
        parse_mxc(mxc).ok_or_else(|| SendError::permanent("not a plain mxc:// URL"))?;
    let token = client
        .access_token()
        .ok_or_else(|| SendError::Misconfigured {
            reason: "the bot is not logged in".into(),
        })?;
    let mut url = client.homeserver();
    url.set_path(&format!("/_matrix/client/v1/media/download/{server}/{id}"));
    url.set_query(Some("allow_redirect=false"));
    let mut response = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| network_error(&e))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(match status {
            401 => crate::map::misconfigured_token(),
            404 => SendError::permanent("the homeserver does not have the image (404)"),
            429 => SendError::RateLimited { retry_after: None },
            s if s >= 500 => SendError::transient(format!("the homeserver answered {s}")),
            s => SendError::permanent(format!("the homeserver refused the download ({s})")),
        }
        .into());
    }
    if let Some(len) = response.content_length().filter(|l| *l > max) {
        return Err(FetchError::TooLarge {
            size: Some(len),
            max,
        });
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| network_error(&e))? {
        if bytes.len() as u64 + chunk.len() as u64 > max {
            return Err(FetchError::TooLarge { size: None, max });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A transport failure (the URL is not in it).
fn network_error(err: &reqwest::Error) -> SendError {
    if err.is_timeout() {
        SendError::transient("the media download timed out")
    } else {
        SendError::transient("cannot reach the homeserver's media repository")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_mxc_urls() {
        assert_eq!(
            parse_mxc("mxc://example.org/AbC_12-x"),
            Some(("example.org", "AbC_12-x"))
        );
        assert_eq!(
            parse_mxc("mxc://localhost:8448/abc"),
            Some(("localhost:8448", "abc"))
        );
        for bad in [
            "https://example.org/abc",
            "mxc://example.org/",
            "mxc://example.org/../../admin",
            "mxc://example.org/a/b",
            "mxc://exa mple.org/a",
            "mxc:///abc",
        ] {
            assert_eq!(parse_mxc(bad), None, "{bad}");
        }
    }
}
