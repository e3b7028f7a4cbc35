//! The `http` destination: the clip uploaded to a URL by PUT (the file as the body) or multipart POST
//! (field `file`), and the link the server answers with.
//!
//! Every attempt carries `Idempotency-Key: clip-{clip_id}`, so a retry after a lost answer (or a job
//! resumed after a crash) cannot make the server store the clip twice. The `Authorization` header's
//! value comes from the environment variable `auth_header_env` and never appears in a message.
//! Network errors, 408, 429 and 5xx are retried with backoff, [`ATTEMPTS`] times in all; any other
//! answer ends the upload. The link is the `Location` header, else `url` in a JSON body, else a body
//! that is itself a URL.

use crate::backoff::Backoff;
use crate::config::model::{ClipHttpMethod, ClipHttpSettings};
use crate::config::secrets::Secret;
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Upload attempts before the job fails.
pub const ATTEMPTS: u32 = 4;
const RETRY_BASE: Duration = Duration::from_millis(500);
const RETRY_CAP: Duration = Duration::from_secs(8);
/// The longest one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(120);

/// One upload.
pub struct Upload<'a> {
    pub settings: &'a ClipHttpSettings,
    pub auth: Option<Secret>,
    pub clip_id: &'a str,
    pub title: Option<&'a str>,
    pub file: &'a Path,
}

/// Uploads the clip; returns its link or a one-line reason.
pub async fn upload(
    client: &reqwest::Client,
    up: &Upload<'_>,
    cancel: &CancellationToken,
) -> Result<String, String> {
    let bytes = std::fs::read(up.file)
        .map_err(|e| format!("the clip file could not be read for upload: {e}"))?;
    let url = up.settings.url.replace("{clip_id}", up.clip_id);
    let mut backoff = Backoff::new(RETRY_BASE, RETRY_CAP);
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        let request = build(client, up, &url, &bytes);
        let answer = tokio::select! {
            () = cancel.cancelled() => return Err("stopped by shutdown".into()),
            answer = request.send() => answer,
        };
        match answer {
            Ok(response) if response.status().is_success() => {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = response.text().await.unwrap_or_default();
                return link_from(location, &body).ok_or_else(|| {
                    "the upload server answered 2xx without a link (a Location header or {\"url\": ...})".to_string()
                });
            }
            Ok(response) => {
                let status = response.status();
                last = format!("the upload server answered {status}");
                let retry = status.is_server_error()
                    || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                    || status == reqwest::StatusCode::REQUEST_TIMEOUT;
                if !retry {
                    return Err(last);
                }
            }
            Err(e) => last = format!("the upload failed: {}", e.without_url()),
        }
        if attempt < ATTEMPTS {
            tokio::select! {
                () = cancel.cancelled() => return Err("stopped by shutdown".into()),
                () = tokio::time::sleep(backoff.next_delay()) => {}
            }
        }
    }
    Err(format!("{last} ({ATTEMPTS} attempts)"))
}

fn build(
    client: &reqwest::Client,
    up: &Upload<'_>,
    url: &str,
    bytes: &[u8],
) -> reqwest::RequestBuilder {
    let request = match up.settings.method {
        ClipHttpMethod::Put => client
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, "video/mp4")
            .body(bytes.to_vec()),
        ClipHttpMethod::Post => {
            let boundary = format!("ss-clip-{:016x}", fastrand::u64(..));
            client
                .post(url)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(multipart(&boundary, up.clip_id, up.title, bytes))
        }
    };
    let request = request
        .timeout(ATTEMPT_TIMEOUT)
        .header("Idempotency-Key", format!("clip-{}", up.clip_id));
    match &up.auth {
        Some(auth) => request.header(reqwest::header::AUTHORIZATION, auth.expose()),
        None => request,
    }
}

/// A `multipart/form-data` body: `clip_id`, `title` when there is one, and `file`.
pub fn multipart(boundary: &str, clip_id: &str, title: Option<&str>, bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(bytes.len() + 512);
    let mut field = |name: &str, value: &str| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    };
    field("clip_id", clip_id);
    if let Some(title) = title {
        field("title", &title.replace(['\r', '\n'], " "));
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{clip_id}.mp4\"\r\nContent-Type: video/mp4\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

/// The link in an upload's answer.
pub fn link_from(location: Option<String>, body: &str) -> Option<String> {
    let is_url = |s: &str| s.starts_with("http://") || s.starts_with("https://");
    if let Some(location) = location.filter(|l| is_url(l)) {
        return Some(location);
    }
    /// A JSON answer naming the uploaded file.
    #[derive(serde::Deserialize)]
    struct Uploaded {
        #[serde(default)]
        url: Option<String>,
    }
    if let Ok(Uploaded { url: Some(url) }) = crate::wire::from_str("the upload answer", body)
        && is_url(&url)
    {
        return Some(url);
    }
    let body = body.trim();
    (is_url(body) && !body.contains(char::is_whitespace)).then(|| body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_comes_from_location_then_json_then_a_plain_body() {
        let loc = Some("https://cdn.example/a.mp4".to_string());
        assert_eq!(
            link_from(loc, "{}").as_deref(),
            Some("https://cdn.example/a.mp4")
        );
        assert_eq!(
            link_from(None, r#"{"url": "https://cdn.example/b.mp4"}"#).as_deref(),
            Some("https://cdn.example/b.mp4")
        );
        assert_eq!(
            link_from(None, "https://cdn.example/c.mp4\n").as_deref(),
            Some("https://cdn.example/c.mp4")
        );
        assert_eq!(link_from(None, "stored"), None);
        assert_eq!(link_from(Some("/relative".into()), ""), None);
    }

    #[test]
    fn a_multipart_body_has_its_fields_and_the_file() {
        let body = multipart("B", "AbC123", Some("gg\nwp"), b"MP4");
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(
            "--B\r\nContent-Disposition: form-data; name=\"clip_id\"\r\n\r\nAbC123\r\n"
        ));
        assert!(text.contains("name=\"title\"\r\n\r\ngg wp\r\n"));
        assert!(text.contains(
            "filename=\"AbC123.mp4\"\r\nContent-Type: video/mp4\r\n\r\nMP4\r\n--B--\r\n"
        ));
    }
}
