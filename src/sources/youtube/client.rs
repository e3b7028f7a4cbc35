//! The HTTP transport of the YouTube source: one call of the Data API, its auth, its errors.
//!
//! Calls are plain `GET`/`POST` with JSON bodies under the configured root (`base_url`, Google's by
//! default). The API key travels in the `X-Goog-Api-Key` header and the OAuth token in
//! `Authorization: Bearer`, never in the URL, so no URL this module builds holds a secret; URLs that
//! are logged still go through [`redact_url`], which masks any `key=` a caller might add. The
//! answers are handed to the pure parsers in [`super::wire`].

use super::wire::{self, ApiError};
use crate::config::secrets::Secret;
use crate::sources::BoxFuture;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Google's root for the Data API v3.
pub const DEFAULT_BASE_URL: &str = "https://www.googleapis.com/youtube/v3";
/// A call that has not answered in this long is abandoned (and retried with backoff).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How calls authenticate.
#[derive(Clone)]
pub enum Auth {
    /// `X-Goog-Api-Key`.
    ApiKey(Secret),
    /// `Authorization: Bearer`.
    Bearer(Secret),
}

impl Auth {
    /// Whether this is the secret `value` (tests of a transport check what was sent).
    pub fn is(&self, value: &str) -> bool {
        match self {
            Auth::ApiKey(s) | Auth::Bearer(s) => s.expose() == value,
        }
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::ApiKey(_) => "ApiKey([redacted])",
            Auth::Bearer(_) => "Bearer([redacted])",
        })
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The API answered with an error (the envelope, classified).
    #[error("{0}")]
    Api(ApiError),
    /// No answer: connection refused, timeout, a body that is not JSON.
    #[error("{0}")]
    Transport(String),
}

/// `url` with the value of every `key=` query parameter masked, for logs.
pub fn redact_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _))
                if k.eq_ignore_ascii_case("key") || k.eq_ignore_ascii_case("access_token") =>
            {
                format!("{k}=[redacted]")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

/// The HTTP method of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallMethod {
    Get,
    Post,
    Delete,
}

impl CallMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CallMethod::Get => "GET",
            CallMethod::Post => "POST",
            CallMethod::Delete => "DELETE",
        }
    }
}

/// One Data API call, as the transport sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: CallMethod,
    /// The JSON body of a `POST`; `None` otherwise.
    pub body: Option<&'a Value>,
    /// Under the root: `liveChat/messages`, `videos`, ...
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub auth: &'a Auth,
}

/// Makes calls: HTTP in production ([`HttpTransport`]); a test may answer in-process, e.g. to
/// simulate a whole stream in paused time, where real sockets and timeouts cannot be used.
pub trait Transport: Send + Sync {
    fn call<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Value, CallError>>;
}

/// A Data API client.
#[derive(Clone)]
pub struct Api {
    transport: Arc<dyn Transport>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Api")
    }
}

impl Api {
    /// HTTP calls under `base`.
    pub fn new(base: &str) -> Result<Api, crate::sources::ClientError> {
        Ok(Api::with_transport(Arc::new(HttpTransport::new(base)?)))
    }

    pub fn with_transport(transport: Arc<dyn Transport>) -> Api {
        Api { transport }
    }

    /// `GET {base}/{path}?{query}`, the JSON answer or the classified error.
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        auth: &Auth,
    ) -> Result<Value, CallError> {
        self.call(CallMethod::Get, path, query, None, auth).await
    }

    /// `DELETE {base}/{path}?{query}`; an empty answer (204) is `null`.
    pub async fn delete(
        &self,
        path: &str,
        query: &[(&str, &str)],
        auth: &Auth,
    ) -> Result<Value, CallError> {
        self.call(CallMethod::Delete, path, query, None, auth).await
    }

    /// `POST {base}/{path}?{query}` with a JSON body.
    pub async fn post(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: &Value,
        auth: &Auth,
    ) -> Result<Value, CallError> {
        self.call(CallMethod::Post, path, query, Some(body), auth)
            .await
    }

    async fn call(
        &self,
        method: CallMethod,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        auth: &Auth,
    ) -> Result<Value, CallError> {
        self.transport
            .call(Request {
                method,
                body,
                path,
                query,
                auth,
            })
            .await
    }
}

/// Calls over HTTP(S) with reqwest (rustls).
#[derive(Debug, Clone)]
pub struct HttpTransport {
    http: reqwest::Client,
    base: String,
}

impl HttpTransport {
    pub fn new(base: &str) -> Result<HttpTransport, crate::sources::ClientError> {
        let http = crate::sources::http_client(REQUEST_TIMEOUT, CONNECT_TIMEOUT)?;
        Ok(HttpTransport {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    async fn send(&self, request: Request<'_>) -> Result<Value, CallError> {
        let url = format!("{}/{}", self.base, request.path);
        let req = match (request.method, request.body) {
            (CallMethod::Get, _) => self.http.get(&url),
            (CallMethod::Post, Some(body)) => self.http.post(&url).json(body),
            (CallMethod::Post, None) => self.http.post(&url),
            (CallMethod::Delete, _) => self.http.delete(&url),
        }
        .query(request.query);
        let req = match request.auth {
            Auth::ApiKey(key) => req.header("X-Goog-Api-Key", key.expose()),
            Auth::Bearer(token) => req.bearer_auth(token.expose()),
        };
        let path = request.path;
        let transport = |e: reqwest::Error| {
            // reqwest's message names the URL; ours never holds a key, and it is redacted anyway.
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "failed"
            };
            let url = e.url().map(|u| redact_url(u.as_str())).unwrap_or_default();
            // The innermost cause says why (DNS, refused, TLS); it may repeat the URL.
            let mut cause = None;
            let mut source = std::error::Error::source(&e);
            while let Some(inner) = source {
                cause = Some(inner.to_string());
                source = inner.source();
            }
            let cause = cause
                .map(|c| format!(": {}", redact_url(&c)))
                .unwrap_or_default();
            CallError::Transport(format!("YouTube {path} {what} ({url}){cause}"))
        };
        let response = req.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        tracing::debug!(
            platform = "youtube",
            status,
            url = %redact_url(response.url().as_str()),
            "Data API call answered."
        );
        let text = response.text().await.map_err(transport)?;
        if !(200..300).contains(&status) {
            return Err(CallError::Api(wire::parse_error(status, &text)));
        }
        if text.trim().is_empty() {
            // 204 No Content: a delete.
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| {
            CallError::Transport(format!("YouTube {path} answered with invalid JSON: {e}"))
        })
    }
}

impl Transport for HttpTransport {
    fn call<'a>(&'a self, request: Request<'a>) -> BoxFuture<'a, Result<Value, CallError>> {
        Box::pin(self.send(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_urls_are_redacted() {
        assert_eq!(
            redact_url(
                "https://h/youtube/v3/liveChat/messages?liveChatId=c&key=AIzaSECRET&part=snippet"
            ),
            "https://h/youtube/v3/liveChat/messages?liveChatId=c&key=[redacted]&part=snippet"
        );
        assert_eq!(
            redact_url("https://h/x?KEY=a"),
            "https://h/x?KEY=[redacted]"
        );
        assert_eq!(redact_url("https://h/x"), "https://h/x");
        assert_eq!(
            format!("{:?}", Auth::ApiKey(Secret::new("AIzaSECRET"))),
            "ApiKey([redacted])"
        );
    }
}
