//! The channel's daily bot: giveaways (public: state, entry counts, winners by display name;
//! admin: every draw's seed, entry list hash and the entry list itself, so a draw can be checked),
//! quotes, points per person, linked people (admin), and the live chat trends (signals).
//!
//! People appear as people: a linked viewer is one entry with their platforms, under the name of
//! the account that changed last. Link codes are never exported (the store does not keep them).

use super::{Body, body, rows};
use crate::actions::community::Entrant;
use crate::export::{ExportError, Inputs, timestamp};
use serde_json::{Value, json};

/// People listed per creator in points.json.
const POINTS_TOP: usize = 100;

/// How a draw is checked, as the admin file says it (the recipe of `triggers::draw`).
const DRAW_RECIPE: &str = "entries_hash = sha256(one line per entry in entry order: person TAB platform TAB user_id TAB weight TAB entry_id LF); seed = sha256(giveaway + LF + entries_hash + LF + draw number); winner k = the entry whose tickets cover (first 8 bytes of sha256(seed + LF + k), big-endian) mod the tickets of the entries that have not won, laid end to end in entry order";

fn winner(w: &Entrant) -> Value {
    json!({"name": w.user_name, "platform": w.platform.as_str()})
}

fn entrant(e: &Entrant) -> Value {
    json!({
        "person": e.person,
        "platform": e.platform.as_str(),
        "user_id": e.user_id,
        "user_name": e.user_name,
        "weight": e.weight,
        "entry_id": e.entry_id,
    })
}

pub(super) fn giveaways(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let giveaways = rows(inputs.store, |s| s.giveaways())?;
    let list: Vec<Value> = giveaways
        .iter()
        .map(|g| {
            json!({
                "creator": g.creator,
                "giveaway": g.giveaway,
                "keyword": g.keyword,
                "state": g.state(),
                "eligibility": g.eligibility,
                "opened_at": timestamp(g.opened_at),
                "closes_at": g.closes_at.map(timestamp),
                "closed_at": g.closed_at.map(timestamp),
                "entries": g.entries.len(),
                "winners": g.winners().into_iter().map(winner).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(body(json!({"giveaways": list})))
}

pub(super) fn giveaways_admin(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let giveaways = rows(inputs.store, |s| s.giveaways())?;
    let list: Vec<Value> = giveaways
        .iter()
        .map(|g| {
            let draws: Vec<Value> = g
                .draws
                .iter()
                .map(|d| {
                    json!({
                        "number": d.draw.number,
                        "kind": d.draw.kind.as_str(),
                        "at": timestamp(d.at),
                        "seed": d.draw.seed,
                        "entries_hash": d.draw.entries_hash,
                        "entries": d.draw.entries,
                        "total_weight": d.draw.total_weight,
                        "winners": d.draw.winners.iter().map(entrant).collect::<Vec<_>>(),
                        "replaced": d.draw.replaced.as_ref().map(entrant),
                    })
                })
                .collect();
            json!({
                "creator": g.creator,
                "giveaway": g.giveaway,
                "platform": g.platform.as_str(),
                "keyword": g.keyword,
                "state": g.state(),
                "eligibility": g.eligibility,
                "opened_at": timestamp(g.opened_at),
                "closes_at": g.closes_at.map(timestamp),
                "entries_closed_at": g.entries_closed_at.map(timestamp),
                "closed_at": g.closed_at.map(timestamp),
                "draws": draws,
                "entries": g.entries.iter().map(entrant).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(body(json!({"recipe": DRAW_RECIPE, "giveaways": list})))
}

pub(super) fn quotes(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let quotes = rows(inputs.store, |s| s.quotes())?;
    let list: Vec<Value> = quotes
        .iter()
        .map(|q| {
            json!({
                "creator": q.creator,
                "number": q.number,
                "text": q.text,
                "added_by": q.added_by,
                "said_by": q.said_by,
                "platform": q.platform.map(|p| p.as_str()),
                "game": q.game,
                "added_at": timestamp(q.added_at),
                "source": q.source,
            })
        })
        .collect();
    Ok(body(json!({"quotes": list})))
}

pub(super) fn points(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let tables = rows(inputs.store, |s| s.points_tables(POINTS_TOP))?;
    let list: Vec<Value> = tables
        .iter()
        .map(|t| {
            let currency = inputs
                .config
                .triggers
                .points
                .get(&t.creator)
                .map_or("points", |p| p.name.as_str());
            json!({
                "creator": t.creator,
                "currency": currency,
                "people": t.people,
                "total": t.total,
                "leaders": t.leaders.iter().map(|p| json!({
                    "rank": p.rank,
                    "name": p.name,
                    "platforms": p.platforms.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                    "balance": p.balance,
                    "earned": p.earned,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(body(json!({"top": POINTS_TOP, "creators": list})))
}

pub(super) fn people(inputs: &Inputs<'_>) -> Result<Body, ExportError> {
    let links = rows(inputs.store, |s| s.links())?;
    let mut people: Vec<Value> = Vec::new();
    let mut i = 0;
    while i < links.len() {
        let (creator, person) = (&links[i].creator, &links[i].person);
        let mut accounts = Vec::new();
        while i < links.len() && links[i].creator == *creator && links[i].person == *person {
            let l = &links[i];
            accounts.push(json!({
                "platform": l.platform.as_str(),
                "user_id": l.user_id,
                "user_name": l.user_name,
                "how": l.how,
                "linked_at": timestamp(l.made_at),
            }));
            i += 1;
        }
        people.push(json!({"creator": creator, "person": person, "accounts": accounts}));
    }
    Ok(body(json!({"people": people})))
}

pub(super) fn chat_trends(inputs: &Inputs<'_>) -> Body {
    match &inputs.runtime.trends {
        Some(trends) => body(json!({
            "running": inputs.runtime.running(),
            "at": timestamp(trends.at),
            "creators": serde_json::to_value(&trends.creators).expect("trends serialize"),
        })),
        None => body(json!({"running": inputs.runtime.running(), "at": null, "creators": []})),
    }
}
