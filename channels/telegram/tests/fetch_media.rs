//! Fetching a resident's photo: `getFile` against a fake Bot API (wiremock),
//! then the download from the file URL; the size limit holds even against a
//! server that lies about the size, and the token never shows in errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use herold_channel_api::{Channel, FetchError, SendError};
use herold_channel_telegram::{TelegramChannel, TelegramConfig};
use serde_json::json;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "123456789:AAfetch-Token_xyz";
const FILE_ID: &str = "AgACAgIAAxkBAAIBQ2photo";

fn channel(api_url: &str) -> TelegramChannel {
    TelegramChannel::new(TelegramConfig {
        api_url: api_url.into(),
        ..TelegramConfig::new(TOKEN)
    })
    .unwrap()
}

fn file_answer(file_size: Option<u64>, file_path: &str) -> ResponseTemplate {
    let mut file = json!({"file_id": FILE_ID, "file_unique_id": "AQADq", "file_path": file_path});
    if let Some(size) = file_size {
        file["file_size"] = json!(size);
    }
    ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": file}))
}

async fn get_file(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(format!("/bot{TOKEN}/getFile")))
        .and(body_json(json!({"file_id": FILE_ID})))
        .respond_with(response)
        .mount(server)
        .await;
}

async fn serve_file(server: &MockServer, file_path: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(format!("/file/bot{TOKEN}/{file_path}")))
        .respond_with(response)
        .mount(server)
        .await;
}

async fn downloads(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .count()
}

fn assert_no_token(err: &FetchError) {
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(
            !shown.contains(TOKEN) && !shown.contains("AAfetch"),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn get_file_then_download() {
    let server = MockServer::start().await;
    let jpeg = b"\xFF\xD8\xFF\xE0 not really a jpeg".to_vec();
    get_file(
        &server,
        file_answer(Some(jpeg.len() as u64), "photos/file_7.jpg"),
    )
    .await;
    serve_file(
        &server,
        "photos/file_7.jpg",
        ResponseTemplate::new(200).set_body_raw(jpeg.clone(), "image/jpeg"),
    )
    .await;
    let got = channel(&server.uri())
        .fetch_media(FILE_ID, 1024)
        .await
        .unwrap();
    assert_eq!(got.bytes, jpeg);
    assert_eq!(got.mime_type.as_deref(), Some("image/jpeg"));
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_before_downloading() {
    let server = MockServer::start().await;
    get_file(&server, file_answer(Some(5_000), "photos/file_8.jpg")).await;
    serve_file(
        &server,
        "photos/file_8.jpg",
        ResponseTemplate::new(200).set_body_raw(vec![0u8; 5_000], "image/jpeg"),
    )
    .await;
    let err = channel(&server.uri())
        .fetch_media(FILE_ID, 4_096)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        FetchError::TooLarge {
            size: Some(5_000),
            max: 4_096
        }
    );
    assert_eq!(downloads(&server).await, 0, "nothing was downloaded");
}

#[tokio::test]
async fn a_download_longer_than_announced_is_cut_off() {
    let server = MockServer::start().await;
    // getFile says 100 bytes; the file server sends 10,000.
    get_file(&server, file_answer(Some(100), "photos/file_9.jpg")).await;
    serve_file(
        &server,
        "photos/file_9.jpg",
        ResponseTemplate::new(200).set_body_raw(vec![0u8; 10_000], "image/jpeg"),
    )
    .await;
    let err = channel(&server.uri())
        .fetch_media(FILE_ID, 4_096)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::TooLarge { max: 4_096, .. }),
        "{err:?}"
    );
}

/// A file server that announces no length and streams without end (chunked):
/// the download stops just past the limit, whatever the server would send.
#[tokio::test]
async fn an_endless_download_stops_at_the_limit() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut content_length = 0usize;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        content_length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0u8; content_length];
                reader.read_exact(&mut body).unwrap();
                if request_line.starts_with("POST") {
                    let json = r#"{"ok":true,"result":{"file_id":"x","file_unique_id":"y","file_path":"photos/endless.jpg"}}"#;
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
                        json.len()
                    );
                    return;
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: image/jpeg\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
                );
                let chunk = vec![0xABu8; 64 * 1024];
                // Up to 1 GiB, unless the client hangs up first.
                for _ in 0..16_384 {
                    if write!(stream, "{:x}\r\n", chunk.len()).is_err()
                        || stream.write_all(&chunk).is_err()
                        || stream.write_all(b"\r\n").is_err()
                    {
                        return;
                    }
                    counter.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                }
            });
        }
    });
    let err = channel(&format!("http://{addr}"))
        .fetch_media(FILE_ID, 1024 * 1024)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        FetchError::TooLarge {
            size: None,
            max: 1024 * 1024
        }
    );
    // Give the server a moment to notice the hang-up.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let written = sent.load(Ordering::SeqCst);
    assert!(
        written < 64 * 1024 * 1024,
        "the server got to write {written} bytes"
    );
}

#[tokio::test]
async fn bot_api_errors_are_mapped_like_sends() {
    let cases = [
        (
            400,
            json!({"ok": false, "error_code": 400, "description": "Bad Request: file is too big"}),
        ),
        (
            400,
            json!({"ok": false, "error_code": 400, "description": "Bad Request: wrong file_id or the file is temporarily unavailable"}),
        ),
        (
            401,
            json!({"ok": false, "error_code": 401, "description": "Unauthorized"}),
        ),
        (
            502,
            json!({"ok": false, "error_code": 502, "description": "Bad Gateway"}),
        ),
        (
            429,
            json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}}),
        ),
    ];
    let mut errors = Vec::new();
    for (status, body) in cases {
        let server = MockServer::start().await;
        get_file(&server, ResponseTemplate::new(status).set_body_json(body)).await;
        let err = channel(&server.uri())
            .fetch_media(FILE_ID, 4096)
            .await
            .unwrap_err();
        assert_no_token(&err);
        errors.push(err);
    }
    assert_eq!(
        errors[0],
        FetchError::TooLarge {
            size: None,
            max: 4096
        }
    );
    assert!(
        matches!(&errors[1], FetchError::Provider(SendError::Permanent { recipient_gone: false, reason }) if reason.contains("wrong file_id")),
        "{:?}",
        errors[1]
    );
    assert!(!errors[1].is_transient());
    assert!(matches!(
        errors[2],
        FetchError::Provider(SendError::Misconfigured { .. })
    ));
    assert!(errors[3].is_transient());
    assert_eq!(
        errors[4],
        FetchError::Provider(SendError::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(7))
        })
    );
}

#[tokio::test]
async fn download_failures_and_odd_paths() {
    let server = MockServer::start().await;
    get_file(&server, file_answer(Some(10), "photos/gone.jpg")).await;
    serve_file(&server, "photos/gone.jpg", ResponseTemplate::new(404)).await;
    let err = channel(&server.uri())
        .fetch_media(FILE_ID, 4096)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Provider(SendError::Permanent { .. })),
        "{err:?}"
    );
    assert_no_token(&err);

    let server = MockServer::start().await;
    get_file(&server, file_answer(Some(10), "photos/file.jpg")).await;
    serve_file(&server, "photos/file.jpg", ResponseTemplate::new(503)).await;
    let err = channel(&server.uri())
        .fetch_media(FILE_ID, 4096)
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");

    // A file_path that would leave the file directory is not followed.
    let server = MockServer::start().await;
    get_file(&server, file_answer(Some(10), "../../bot/getMe")).await;
    let err = channel(&server.uri())
        .fetch_media(FILE_ID, 4096)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Provider(SendError::Permanent { .. })),
        "{err:?}"
    );
    assert_eq!(downloads(&server).await, 0);
}

#[tokio::test]
async fn network_errors_are_transient_and_hide_the_token() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = channel(&format!("http://127.0.0.1:{port}"))
        .fetch_media(FILE_ID, 4096)
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert_no_token(&err);
}
