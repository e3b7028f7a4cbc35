//! The X sender: outbox rows for `Destination::X` posted with `POST {api_base_url}/tweets`
//! (`{"text": ...}`) and a user-context OAuth 2.0 token (X's API v2 reference).
//!
//! - 201 is sent. A 401 refreshes the access token once with the refresh token
//!   (`grant_type=refresh_token` at `oauth_url`) and tries again; the refreshed tokens live in
//!   memory only (X rotates refresh tokens, so after a restart the environment's must be current).
//! - A 403 (a duplicate text, or a token without `tweet.write`) is recorded as a failure, never
//!   retried.
//! - `x-rate-limit-remaining: 0` holds further posts until `x-rate-limit-reset`; a 429 waits for it
//!   and tries again later. 5xx and timeouts are retried with backoff.
//!
//! Tokens never reach logs or errors: error texts come from X's problem `title`/`detail` and the
//! status, transport errors are described without their URL and scrubbed.

use super::drain::{DrainCtx, Outcome, Sender, describe};
use crate::config::secrets::Secret;
use crate::routing::Destination;
use crate::store::OutboxRow;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// X's limit on a post's length (characters; links count as 23, so this is conservative).
pub const TEXT_MAX: usize = 280;

/// Sends X rows.
pub struct XSender {
    http: reqwest::Client,
    /// The access token after a refresh (the environment's before the first).
    refreshed: Option<(Secret, Option<Secret>)>,
    /// No post before this (rate limit).
    hold_until: Option<Instant>,
}

impl XSender {
    pub fn new() -> Result<XSender, crate::http_out::ClientError> {
        Ok(XSender {
            http: super::http_client(REQUEST_TIMEOUT, REQUEST_TIMEOUT)?,
            refreshed: None,
            hold_until: None,
        })
    }
}

enum Answer {
    Sent,
    Unauthorized(String),
    Refused(String),
    Retry(String),
    RateLimited(Duration),
}

impl Sender for XSender {
    fn destination(&self) -> Destination {
        Destination::X
    }

    async fn deliver<'a>(
        &'a mut self,
        row: &'a OutboxRow,
        _done: &'a [String],
        ctx: &'a DrainCtx,
    ) -> Outcome {
        let settings = ctx.config.borrow().posting.x.clone();
        let Some(text) = row.payload.get("text").and_then(Value::as_str) else {
            return Outcome::Failed {
                error: "the row has no text to post".into(),
            };
        };
        let text = super::embed::truncate(text, TEXT_MAX);
        let token = match &self.refreshed {
            Some((token, _)) => Some(token.clone()),
            None => settings
                .token_env
                .as_deref()
                .and_then(|e| ctx.secrets.get(e)),
        };
        let Some(mut token) = token else {
            let why = match &settings.token_env {
                Some(env) => format!("{env} is not set; export the X user token to post"),
                None => "posting.json x has no token_env".to_string(),
            };
            if ctx
                .stats
                .set_state("x", "not_configured", Some(why.clone()))
            {
                tracing::warn!(destination = "x", "X posts wait: {why}");
            }
            return Outcome::Hold;
        };
        if let Some(until) = self.hold_until
            && !ctx.wait_until(until).await
        {
            return Outcome::Hold;
        }
        let url = format!("{}/tweets", settings.api_base_url.trim_end_matches('/'));
        let mut refreshed = false;
        loop {
            let answer = match self
                .http
                .post(&url)
                .bearer_auth(token.expose())
                .json(&json!({ "text": text }))
                .send()
                .await
            {
                Err(e) => Answer::Retry(describe(e, &ctx.secrets)),
                Ok(response) => self.read(response).await,
            };
            match answer {
                Answer::Sent => {
                    ctx.stats.set_state("x", "ready", None);
                    return Outcome::Sent;
                }
                Answer::Unauthorized(error) if !refreshed => match self.refresh(ctx).await {
                    Ok(new) => {
                        token = new;
                        refreshed = true;
                    }
                    Err(why) => {
                        let error = ctx
                            .secrets
                            .scrub(&format!("{error}; refreshing failed: {why}"));
                        ctx.config_problem(Destination::X, &error);
                        return Outcome::Failed { error };
                    }
                },
                Answer::Unauthorized(error) => {
                    let error = ctx.secrets.scrub(&error);
                    ctx.config_problem(Destination::X, &error);
                    return Outcome::Failed { error };
                }
                Answer::Refused(error) => {
                    return Outcome::Failed {
                        error: ctx.secrets.scrub(&error),
                    };
                }
                Answer::Retry(error) => {
                    return Outcome::Retry {
                        error: ctx.secrets.scrub(&error),
                    };
                }
                Answer::RateLimited(wait) => {
                    ctx.stats.update("x", |s| s.rate_limited += 1);
                    self.hold_until = Some(Instant::now() + wait);
                    return Outcome::Retry {
                        error: format!("rate limited for {:.0} s", wait.as_secs_f64()),
                    };
                }
            }
        }
    }
}

impl XSender {
    async fn read(&mut self, response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        let remaining = header("x-rate-limit-remaining");
        let reset = header("x-rate-limit-reset");
        let until_reset = reset.map(|r| {
            let s = (r - chrono::Utc::now().timestamp()).clamp(1, 15 * 60);
            Duration::from_secs(s.unsigned_abs())
        });
        if remaining == Some(0)
            && let Some(wait) = until_reset
        {
            self.hold_until = Some(Instant::now() + wait);
        }
        let body = response.text().await.unwrap_or_default();
        let problem = problem_text(&body);
        match status {
            200..=299 => Answer::Sent,
            401 => Answer::Unauthorized(format!(
                "X answered 401 ({problem}): the user token is invalid or expired"
            )),
            403 => Answer::Refused(format!(
                "X answered 403 ({problem}); not retried (a duplicate text, or a token without tweet.write)"
            )),
            429 => Answer::RateLimited(until_reset.unwrap_or(Duration::from_secs(60))),
            500..=599 => Answer::Retry(format!("X answered {status} ({problem})")),
            _ => Answer::Refused(format!("X answered {status} ({problem})")),
        }
    }

    /// Exchanges the refresh token for a new access token.
    async fn refresh(&mut self, ctx: &DrainCtx) -> Result<Secret, String> {
        let settings = ctx.config.borrow().posting.x.clone();
        let refresh = match &self.refreshed {
            Some((_, Some(r))) => Some(r.clone()),
            _ => settings
                .refresh_token_env
                .as_deref()
                .and_then(|e| ctx.secrets.get(e)),
        }
        .ok_or("no refresh token (posting.json x.refresh_token_env unset or empty)")?;
        let client_id = settings
            .client_id_env
            .as_deref()
            .and_then(|e| ctx.secrets.get(e))
            .ok_or("no client id (posting.json x.client_id_env unset or empty)")?;
        let form = super::form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose()),
            ("client_id", client_id.expose()),
        ]);
        let response = self
            .http
            .post(&settings.oauth_url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|e| describe(e, &ctx.secrets))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!(
                "the token endpoint answered {status} ({})",
                problem_text(&body)
            ));
        }
        let token =
            crate::wire::parse_token("X's token answer", &body).map_err(|e| e.to_string())?;
        let access = Secret::new(&token.access_token);
        let next_refresh = token.refresh_token.as_deref().map(Secret::new);
        tracing::info!(destination = "x", "X access token refreshed.");
        self.refreshed = Some((access.clone(), next_refresh));
        Ok(access)
    }
}

/// An X error (§6): a problem-details object at the top level or inside `errors[]`, or OAuth's
/// `error` / `error_description` from the token endpoint.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Problem {
    title: Option<String>,
    detail: Option<String>,
    #[serde(flatten)]
    body: crate::wire::ErrorBody,
    errors: Vec<Problem>,
}

/// X's problem text: `title: detail` at the top level or in `errors[0]`, or OAuth's `error`.
fn problem_text(body: &str) -> String {
    let mut problem: Problem = crate::wire::from_str("an X answer", body).unwrap_or_default();
    if problem.title.is_none() && !problem.errors.is_empty() {
        problem = problem.errors.swap_remove(0);
    }
    let detail = problem.detail.as_deref().or(problem.body.text());
    let text = match (problem.title.as_deref(), detail) {
        (Some(t), Some(d)) => format!("{t}: {d}"),
        (Some(t), None) | (None, Some(t)) => t.to_string(),
        (None, None) => "no details".to_string(),
    };
    super::embed::truncate(&text, 300)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn problem_details_are_read_at_the_top_or_in_errors() {
        let top = json!({"title": "Forbidden", "detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank", "status": 403});
        assert_eq!(
            problem_text(&top.to_string()),
            "Forbidden: You are not allowed to create a Tweet with duplicate content."
        );
        let nested =
            json!({"errors": [{"title": "Unauthorized", "detail": "Unauthorized", "status": 401}]});
        assert_eq!(
            problem_text(&nested.to_string()),
            "Unauthorized: Unauthorized"
        );
        let oauth = json!({"error": "invalid_request", "error_description": "Value passed for the token was invalid."});
        assert_eq!(
            problem_text(&oauth.to_string()),
            "Value passed for the token was invalid."
        );
        assert_eq!(problem_text(""), "no details");
        assert_eq!(problem_text("<html>"), "no details");
    }

    proptest! {
        #[test]
        fn problem_text_never_panics(text in "\\PC{0,200}") {
            let _ = problem_text(&text);
        }
    }
}
