//! The Discord sender: outbox rows for `Destination::Discord` posted with Create Message
//! (`POST {api_base_url}/channels/{id}/messages`, the bot token) or Execute Webhook
//! (`POST {webhook}?wait=true`) when the guild names a `webhook_url_env` (Discord's API reference).
//!
//! - Each message carries the row's nonce (made distinct per channel) with `enforce_nonce`, so a
//!   retry after a timeout returns the message already created instead of posting it again.
//! - Rate limits: every response's `X-RateLimit-*` headers feed [`RateLimits`]; a 429 waits its
//!   `retry_after` (the whole bot on a global one) and the same message is tried again, never
//!   dropped.
//! - 401/403: a configuration problem (a wrong token, a missing permission), reported once; the row
//!   fails without retries, so no storm of invalid requests (Cloudflare bans after 10,000).
//! - 5xx, timeouts: the row is tried again later with backoff.
//!
//! Nothing here logs or returns a token or a webhook URL: errors come from status codes and
//! Discord's error `message`, transport errors are described without their URL and scrubbed.

use super::buckets::{RateHeaders, RateLimits, seconds};
use super::drain::{DrainCtx, Outcome, Sender, describe};
use super::embed::Post;
use crate::routing::Destination;
use crate::routing::discord::{self as routing, Delivery, Via};
use crate::store::OutboxRow;
use serde_json::Value;
use std::time::{Duration, Instant};

/// How long one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// 429s in a row on one message before the row is put off (and tried again later).
const MAX_RATE_LIMITED: u32 = 5;
const USER_AGENT: &str = concat!(
    "DiscordBot (https://streamsuites.app, ",
    env!("CARGO_PKG_VERSION"),
    ")"
);

/// Sends Discord rows.
pub struct DiscordSender {
    http: reqwest::Client,
    limits: RateLimits,
}

impl DiscordSender {
    pub fn new() -> Result<DiscordSender, crate::http_out::ClientError> {
        Ok(DiscordSender {
            http: super::http_client(REQUEST_TIMEOUT, REQUEST_TIMEOUT)?,
            limits: RateLimits::default(),
        })
    }
}

/// One delivery's nonce: the row's (16 hex digits) and 8 of the delivery's, within Discord's 25.
fn nonce(row_nonce: &str, delivery: &str) -> String {
    let hash = delivery.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("{}{hash:08x}", &row_nonce[..row_nonce.len().min(16)])
}

/// What one response means.
enum Answer {
    Ok,
    RateLimited { retry_after: Duration, global: bool },
    Retry(String),
    Config(String),
    Refused(String),
}

impl Sender for DiscordSender {
    fn destination(&self) -> Destination {
        Destination::Discord
    }

    async fn deliver<'a>(
        &'a mut self,
        row: &'a OutboxRow,
        done: &'a [String],
        ctx: &'a DrainCtx,
    ) -> Outcome {
        let (deliveries, base) = {
            let config = ctx.config.borrow();
            let platform = row.payload.get("platform").and_then(Value::as_str);
            let routed = routing::route(&config.discord, &row.creator, &row.target, platform);
            (routed, config.discord.discord.api_base_url.clone())
        };
        let deliveries = match deliveries {
            Ok(d) => d,
            Err(error) => {
                return Outcome::Unrouted {
                    error: error.to_string(),
                };
            }
        };
        let body = Post::from_payload(&row.kind, &row.payload).body();
        for delivery in deliveries.iter().filter(|d| !done.contains(&d.key)) {
            match self.deliver_one(row, delivery, &body, &base, ctx).await {
                Outcome::Sent => ctx.delivered(row, &delivery.key).await,
                other => return other,
            }
        }
        Outcome::Sent
    }
}

impl DiscordSender {
    async fn deliver_one(
        &mut self,
        row: &OutboxRow,
        delivery: &Delivery,
        body: &Value,
        base: &str,
        ctx: &DrainCtx,
    ) -> Outcome {
        let destination = Destination::Discord;
        let (url, auth, body, route) = match &delivery.via {
            Via::Bot { channel_id } => {
                let token_env = ctx.config.borrow().discord.discord.token_env.clone();
                let Some(token) = token_env.as_deref().and_then(|env| ctx.secrets.get(env)) else {
                    let why = match token_env {
                        Some(env) => format!(
                            "{env} is not set; export it (the bot token) to post to Discord"
                        ),
                        None => {
                            "discord.json has no token_env; name the variable holding the bot token"
                                .into()
                        }
                    };
                    if ctx.stats.set_state(
                        destination.as_str(),
                        "not_configured",
                        Some(why.clone()),
                    ) {
                        tracing::warn!(destination = "discord", "Discord posts wait: {why}");
                    }
                    return Outcome::Hold;
                };
                let mut body = body.clone();
                body["nonce"] = Value::String(nonce(&row.nonce, &delivery.key));
                body["enforce_nonce"] = Value::Bool(true);
                (
                    format!(
                        "{}/channels/{channel_id}/messages",
                        base.trim_end_matches('/')
                    ),
                    Some(format!("Bot {}", token.expose())),
                    body,
                    format!("channels/{channel_id}/messages"),
                )
            }
            Via::Webhook { env } => {
                let Some(hook) = ctx.secrets.get(env) else {
                    let why = format!("{env} is not set; export it (the guild's webhook URL)");
                    if ctx.stats.set_state(
                        destination.as_str(),
                        "not_configured",
                        Some(why.clone()),
                    ) {
                        tracing::warn!(destination = "discord", "Discord posts wait: {why}");
                    }
                    return Outcome::Hold;
                };
                let url = hook.expose().trim_end_matches('/').to_string();
                let sep = if url.contains('?') { '&' } else { '?' };
                (
                    format!("{url}{sep}wait=true"),
                    None,
                    body.clone(),
                    delivery.key.clone(),
                )
            }
        };
        let mut limited = 0;
        loop {
            let ready = self.limits.ready_at(&route, Instant::now());
            if !ctx.wait_until(ready).await {
                return Outcome::Hold;
            }
            self.limits.sending(Instant::now());
            let mut request = self
                .http
                .post(&url)
                .header("User-Agent", USER_AGENT)
                .json(&body);
            if let Some(auth) = &auth {
                request = request.header("Authorization", auth);
            }
            let answer = match request.send().await {
                Err(e) => Answer::Retry(describe(e, &ctx.secrets)),
                Ok(response) => self.read(&route, response).await,
            };
            match answer {
                Answer::Ok => {
                    ctx.stats.set_state(destination.as_str(), "ready", None);
                    return Outcome::Sent;
                }
                Answer::RateLimited {
                    retry_after,
                    global,
                } => {
                    ctx.stats.update("discord", |s| s.rate_limited += 1);
                    tracing::info!(
                        destination = "discord",
                        outbox_id = row.id,
                        cause = super::drain::cause(row),
                        retry_after_s = retry_after.as_secs_f64(),
                        global,
                        "Discord rate limit; waiting."
                    );
                    self.limits
                        .limited(&route, retry_after, global, Instant::now());
                    limited += 1;
                    if limited >= MAX_RATE_LIMITED {
                        return Outcome::Retry {
                            error: format!("rate limited {limited} times in a row"),
                        };
                    }
                }
                Answer::Retry(error) => {
                    return Outcome::Retry {
                        error: ctx.secrets.scrub(&error),
                    };
                }
                Answer::Config(error) => {
                    let error = ctx.secrets.scrub(&error);
                    ctx.config_problem(destination, &error);
                    return Outcome::Failed { error };
                }
                Answer::Refused(error) => {
                    return Outcome::Failed {
                        error: ctx.secrets.scrub(&error),
                    };
                }
            }
        }
    }

    async fn read(&mut self, route: &str, response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers();
        let pairs = headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
        let rate = RateHeaders::parse(pairs);
        let retry_after_header = headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(seconds);
        self.limits.observe(route, &rate, Instant::now());
        let text = response.text().await.unwrap_or_default();
        let answer = DiscordError::parse(&text);
        let message = answer
            .as_ref()
            .and_then(|a| {
                let m = a.body.message.as_deref()?;
                Some(match a.body.code {
                    Some(code) => format!("{m} (code {code})"),
                    None => m.to_string(),
                })
            })
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
        let message = super::embed::truncate(&message, 300);
        match status.as_u16() {
            200..=299 => Answer::Ok,
            429 => {
                let retry_after = answer
                    .as_ref()
                    .and_then(|a| a.retry_after)
                    .and_then(|s| seconds(&s.to_string()))
                    .or(retry_after_header)
                    .or(rate.reset_after)
                    .unwrap_or(Duration::from_secs(1));
                let global = rate.global || answer.as_ref().and_then(|a| a.global).unwrap_or(false);
                Answer::RateLimited {
                    retry_after,
                    global,
                }
            }
            401 => Answer::Config(format!(
                "Discord answered 401 Unauthorized ({message}): the bot token (or webhook) is wrong; fix discord.json token_env / webhook_url_env"
            )),
            403 => Answer::Config(format!(
                "Discord answered 403 Forbidden ({message}): the bot lacks access to the channel (View Channel, Send Messages, Embed Links)"
            )),
            404 => Answer::Refused(format!(
                "Discord answered 404 ({message}): the channel or webhook does not exist; fix the id in discord.json"
            )),
            500..=599 => Answer::Retry(format!("Discord answered {status}")),
            _ => Answer::Refused(format!("Discord answered {status}: {message}")),
        }
    }
}

/// Discord's error body (`{"code":50013,"message":"Missing Permissions"}`), with the 429 fields
/// (`retry_after` in seconds, `global`).
#[derive(Debug, Default, serde::Deserialize)]
struct DiscordError {
    #[serde(flatten)]
    body: crate::wire::ErrorBody,
    #[serde(default)]
    retry_after: Option<f64>,
    #[serde(default)]
    global: Option<bool>,
}

impl DiscordError {
    /// The answer's error, when its body is JSON (a Cloudflare page is not).
    fn parse(text: &str) -> Option<DiscordError> {
        crate::wire::from_str("a Discord answer", text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_and_rate_limit_bodies_are_read() {
        let limited = DiscordError::parse(
            r#"{"message":"You are being rate limited.","retry_after":64.57,"global":false}"#,
        )
        .unwrap();
        assert_eq!(limited.retry_after, Some(64.57));
        assert_eq!(limited.global, Some(false));
        assert_eq!(limited.body.text(), Some("You are being rate limited."));
        let refused =
            DiscordError::parse(r#"{"code":50035,"message":"Invalid Form Body","errors":{}}"#)
                .unwrap();
        assert_eq!(refused.body.code, Some(50035));
        assert!(DiscordError::parse("<html>").is_none());
    }

    #[test]
    fn nonces_fit_discord_and_differ_per_channel() {
        let a = nonce("0123456789abcdef", "100000000000000003");
        let b = nonce("0123456789abcdef", "100000000000000012");
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
        assert_eq!(a, nonce("0123456789abcdef", "100000000000000003"));
    }
}
