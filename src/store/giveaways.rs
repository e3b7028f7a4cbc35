//! Giveaways: what was opened, who entered (one entry per person), and every draw with what it
//! takes to check it again.
//!
//! The engine runs a giveaway (it lives in the trigger state, like a chat poll) and describes each
//! step as an action; this module records them. A draw row keeps its seed, the hash of the entry
//! list it drew from and its winners, so `admin/giveaways.json` can show them and anyone can redo
//! the draw from the entry list (see `triggers::draw`). A giveaway still running when trigger state
//! starts afresh (a run mark) is closed here as `interrupted`, like a poll.

use super::apply::ApplyError;
use super::error::StoreError;
use super::open::StoreReader;
use super::rows::{self, ms, platform};
use crate::actions::community::{Draw, Entrant};
use crate::actions::{Action, ActionKind};
use crate::event::Platform;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use serde::Serialize;

/// Applies a giveaway action.
pub(super) fn apply(conn: &Connection, action: &Action) -> Result<(), ApplyError> {
    let creator = &action.creator;
    let at = ms(&action.at);
    match &action.kind {
        ActionKind::GiveawayOpen {
            giveaway,
            keyword,
            eligibility,
            closes_at,
        } => {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO giveaways (creator, giveaway, platform, keyword, eligibility,
                                                  opened_ms, closes_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                creator,
                giveaway,
                action.platform.as_str(),
                keyword,
                eligibility.as_str(),
                at,
                closes_at.as_ref().map(ms)
            ])?;
        }
        ActionKind::GiveawayEntry { giveaway, entrant } => {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO giveaway_entries (creator, giveaway, person, platform, user_id,
                                                         user_name, weight, entry_id, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                creator,
                giveaway,
                entrant.person,
                entrant.platform.as_str(),
                entrant.user_id,
                entrant.user_name,
                entrant.weight,
                entrant.entry_id,
                at
            ])?;
        }
        ActionKind::GiveawayEntriesClosed { giveaway, .. } => {
            close_entries(conn, creator, giveaway, at)?;
        }
        ActionKind::GiveawayDraw { giveaway, draw, .. } => {
            let refused = |e: serde_json::Error| {
                ApplyError::Rejected(format!("giveaway draw not serializable: {e}"))
            };
            let winners = serde_json::to_string(&draw.winners).map_err(refused)?;
            let replaced = draw
                .replaced
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(refused)?;
            close_entries(conn, creator, giveaway, at)?;
            conn.prepare_cached(
                "INSERT OR IGNORE INTO giveaway_draws (creator, giveaway, number, kind, seed,
                   entries_hash, entries, total_weight, winners, replaced, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                creator,
                giveaway,
                draw.number,
                draw.kind.as_str(),
                draw.seed,
                draw.entries_hash,
                i64::try_from(draw.entries).unwrap_or(i64::MAX),
                i64::try_from(draw.total_weight).unwrap_or(i64::MAX),
                winners,
                replaced,
                at
            ])?;
        }
        ActionKind::GiveawayClose { giveaway } => {
            close_entries(conn, creator, giveaway, at)?;
            conn.prepare_cached(
                "UPDATE giveaways SET closed_ms = ?3, close_reason = 'command'
                 WHERE creator = ?1 AND giveaway = ?2 AND closed_ms IS NULL",
            )?
            .execute(params![creator, giveaway, at])?;
        }
        _ => {}
    }
    Ok(())
}

fn close_entries(
    conn: &Connection,
    creator: &str,
    giveaway: &str,
    at: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE giveaways SET entries_closed_ms = ?3
         WHERE creator = ?1 AND giveaway = ?2 AND entries_closed_ms IS NULL",
    )?
    .execute(params![creator, giveaway, at])?;
    Ok(())
}

/// Closes every giveaway still running (and matching `only`, an SQL condition, or `TRUE`) as
/// `interrupted`: trigger state starts afresh at `at_ms`.
pub(super) fn interrupt_running(conn: &Connection, at_ms: i64, only: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(&format!(
        "UPDATE giveaways SET closed_ms = ?1, close_reason = 'interrupted',
                              entries_closed_ms = coalesce(entries_closed_ms, ?1)
         WHERE closed_ms IS NULL AND {only}"
    ))?
    .execute(params![at_ms])?;
    Ok(())
}

/// One giveaway with its entries and draws.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GiveawayRow {
    pub creator: String,
    pub giveaway: String,
    pub platform: Platform,
    pub keyword: String,
    pub eligibility: String,
    pub opened_at: DateTime<Utc>,
    pub closes_at: Option<DateTime<Utc>>,
    pub entries_closed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub close_reason: Option<String>,
    /// In entry order.
    pub entries: Vec<Entrant>,
    /// In draw order.
    pub draws: Vec<DrawRow>,
}

impl GiveawayRow {
    /// `open` (taking entries), `drawing` (entries closed, not ended), `closed` or `interrupted`.
    pub fn state(&self) -> &str {
        match (&self.closed_at, &self.entries_closed_at) {
            (Some(_), _) if self.close_reason.as_deref() == Some("interrupted") => "interrupted",
            (Some(_), _) => "closed",
            (None, Some(_)) => "drawing",
            (None, None) => "open",
        }
    }

    /// The winners standing: every draw's winners, less the ones a reroll replaced, in draw order.
    pub fn winners(&self) -> Vec<&Entrant> {
        let replaced: Vec<&str> = self
            .draws
            .iter()
            .filter_map(|d| d.draw.replaced.as_ref().map(|r| r.person.as_str()))
            .collect();
        self.draws
            .iter()
            .flat_map(|d| &d.draw.winners)
            .filter(|w| !replaced.contains(&w.person.as_str()))
            .collect()
    }
}

/// One recorded draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrawRow {
    pub at: DateTime<Utc>,
    pub draw: Draw,
}

impl StoreReader {
    /// Every giveaway, oldest first, with entries and draws.
    pub fn giveaways(&self) -> Result<Vec<GiveawayRow>, StoreError> {
        let mut giveaways = self.rows(
            "SELECT creator, giveaway, platform, keyword, eligibility, opened_ms, closes_ms,
                    entries_closed_ms, closed_ms, close_reason
             FROM giveaways ORDER BY opened_ms, creator, giveaway",
            [],
            |r| {
                Ok(GiveawayRow {
                    creator: r.get(0)?,
                    giveaway: r.get(1)?,
                    platform: platform(r, 2)?,
                    keyword: r.get(3)?,
                    eligibility: r.get(4)?,
                    opened_at: rows::time(r, 5)?,
                    closes_at: rows::opt_time(r, 6)?,
                    entries_closed_at: rows::opt_time(r, 7)?,
                    closed_at: rows::opt_time(r, 8)?,
                    close_reason: r.get(9)?,
                    entries: Vec::new(),
                    draws: Vec::new(),
                })
            },
        )?;
        let entries = self.rows(
            "SELECT creator, giveaway, person, platform, user_id, user_name, weight, entry_id
             FROM giveaway_entries ORDER BY id",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    Entrant {
                        person: r.get(2)?,
                        platform: platform(r, 3)?,
                        user_id: r.get(4)?,
                        user_name: r.get(5)?,
                        weight: r.get(6)?,
                        entry_id: r.get(7)?,
                    },
                ))
            },
        )?;
        for (creator, giveaway, entrant) in entries {
            if let Some(g) = giveaways
                .iter_mut()
                .find(|g| g.creator == creator && g.giveaway == giveaway)
            {
                g.entries.push(entrant);
            }
        }
        let draws = self.rows(
            "SELECT creator, giveaway, number, kind, seed, entries_hash, entries, total_weight,
                    winners, replaced, at_ms
             FROM giveaway_draws ORDER BY creator, giveaway, number",
            [],
            |r| {
                let kind: String = r.get(3)?;
                let json = |i: usize| -> rusqlite::Result<Option<String>> { r.get(i) };
                let winners: Vec<Entrant> = serde_json::from_str(&json(8)?.unwrap_or_default())
                    .map_err(|e| rows::invalid(8, format!("winners do not parse ({e})")))?;
                let replaced: Option<Entrant> = json(9)?
                    .map(|s| serde_json::from_str(&s))
                    .transpose()
                    .map_err(|e| {
                        rows::invalid(9, format!("replaced winner does not parse ({e})"))
                    })?;
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    DrawRow {
                        at: rows::time(r, 10)?,
                        draw: Draw {
                            number: r.get(2)?,
                            kind: match kind.as_str() {
                                "draw" => crate::actions::community::DrawKind::Draw,
                                "reroll" => crate::actions::community::DrawKind::Reroll,
                                other => {
                                    return Err(rows::invalid(
                                        3,
                                        format!("unknown draw kind {other:?}"),
                                    ));
                                }
                            },
                            seed: r.get(4)?,
                            entries_hash: r.get(5)?,
                            entries: rows::count(r, 6)?,
                            total_weight: rows::count(r, 7)?,
                            winners,
                            replaced,
                        },
                    },
                ))
            },
        )?;
        for (creator, giveaway, draw) in draws {
            if let Some(g) = giveaways
                .iter_mut()
                .find(|g| g.creator == creator && g.giveaway == giveaway)
            {
                g.draws.push(draw);
            }
        }
        Ok(giveaways)
    }
}
