//! What chat did: published clips, polls (counts only), tallies, scoreboards, and the recent signal
//! events behind them.
//!
//! Public files carry aggregates; the dashboard-only signals carry recent events. Neither carries a
//! voter's or tally contributor's identity: votes are secret ballots, and a public scoreboard shows
//! only the display names that earned a place on it.

use super::{Body, array, body, rows};
use crate::export::{ExportError, Inputs, timestamp};
use serde_json::{Value, json};

/// Most clips listed in clips.json.
const CLIPS_MAX: usize = 500;
/// Entries per scoreboard.
const SCOREBOARD_TOP: usize = 100;

fn recent(inputs: &Inputs<'_>) -> usize {
    inputs.config.system.exports.recent_events
}

pub(super) fn clips(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let clips = match inputs.store {
        Some(store) => clip_entries(store, None, None, CLIPS_MAX)?,
        None => Vec::new(),
    };
    Ok(body(json!({"clips": clips})))
}

/// Clips as clips.json lists them (newest first), also `ss clip list --format json`: only those in
/// `state` and of `creator` when given, at most `max`.
pub fn clip_entries(
    store: &crate::store::StoreReader,
    state: Option<crate::store::ClipState>,
    creator: Option<&str>,
    max: usize,
) -> Result<Vec<Value>, crate::store::StoreError> {
    let mut entries = Vec::new();
    for c in store
        .clips(state)?
        .iter()
        .filter(|c| creator.is_none_or(|id| c.creator == id))
        .take(max)
    {
        let history: Vec<Value> = store
            .clip_history(&c.clip_id)?
            .iter()
            .map(|h| json!({"state": h.state.as_str(), "at": timestamp(h.at), "detail": h.detail}))
            .collect();
        entries.push(json!({
            "clip_id": c.clip_id,
            "creator": c.creator,
            "platform": c.platform.as_str(),
            "channel": c.channel,
            "title": c.title,
            "duration_s": c.duration_s,
            "requested_by": c.requested_by,
            "state": c.state.as_str(),
            "url": c.url,
            "thumbnail_url": c.thumbnail_url,
            "error": (c.state == crate::store::ClipState::Failed).then_some(c.error.as_deref()).flatten(),
            "created_at": timestamp(c.created_at),
            "published_at": c.published_at.map(timestamp),
            "history": history,
        }));
    }
    Ok(entries)
}

pub(super) fn polls(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let recent = inputs.config.system.exports.recent_polls;
    let polls = rows(inputs.store, |s| s.polls(recent))?;
    let polls: Vec<Value> = polls
        .iter()
        .map(|p| {
            let options: Vec<Value> = p
                .options
                .iter()
                .map(|o| {
                    json!({
                        "option": o.option,
                        "votes": o.votes,
                        "percent": crate::actions::poll::percent(o.votes, p.total_votes),
                    })
                })
                .collect();
            json!({
                "creator": p.creator,
                "poll": p.poll,
                "question": p.question,
                "state": if p.closed_at.is_some() { "closed" } else { "open" },
                "opened_at": timestamp(p.opened_at),
                "closes_at": p.closes_at.map(timestamp),
                "closed_at": p.closed_at.map(timestamp),
                "close_reason": p.close_reason,
                "last_vote_at": p.last_vote_at.map(timestamp),
                "total_votes": p.total_votes,
                "options": options,
            })
        })
        .collect();
    Ok(body(json!({"polls": polls})))
}

pub(super) fn tallies(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let tallies = rows(inputs.store, |s| s.tallies())?;
    let tallies: Vec<Value> = tallies
        .iter()
        .map(|t| {
            json!({
                "creator": t.creator,
                "tally": t.tally,
                "total": t.total,
                "events": t.events,
                "updated_at": timestamp(t.updated_at),
            })
        })
        .collect();
    Ok(body(json!({"tallies": tallies})))
}

pub(super) fn scoreboards(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let boards = rows(inputs.store, |s| s.scoreboards(SCOREBOARD_TOP))?;
    Ok(body(
        json!({"top": SCOREBOARD_TOP, "scoreboards": array(&boards)}),
    ))
}

pub(super) fn chat_events(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let limit = recent(inputs);
    let events = rows(inputs.store, |s| s.recent_chat_events(limit))?;
    let total = inputs.store.map(|s| s.chat_event_count()).transpose()?;
    Ok(body(json!({
        "limit": limit,
        "total_recorded": total.unwrap_or(0),
        "events": array(&events),
    })))
}

pub(super) fn poll_votes(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let limit = recent(inputs);
    let votes = rows(inputs.store, |s| s.recent_poll_votes(limit))?;
    Ok(body(json!({"limit": limit, "votes": array(&votes)})))
}

pub(super) fn tally_events(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let limit = recent(inputs);
    let events = rows(inputs.store, |s| s.recent_tally_events(limit))?;
    Ok(body(json!({"limit": limit, "events": array(&events)})))
}

pub(super) fn score_events(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let limit = recent(inputs);
    let events = rows(inputs.store, |s| s.recent_score_events(limit))?;
    Ok(body(json!({"limit": limit, "events": array(&events)})))
}
