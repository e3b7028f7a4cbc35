//! A chat poll's results as data and as words: counts per option, percentages, the winner.
//!
//! The engine puts the counts in the `poll_close` action, and the same functions turn them into the
//! chat reply, the Discord post and the `percent` of polls.json, so the three always agree. Only
//! counts ever appear here: who voted for what stays in the store.

use serde::{Deserialize, Serialize};

/// Why a chat poll closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// `!poll close` by someone allowed to.
    Command,
    /// Its deadline came (closed by the first tick of the creator's clock at or after it, or by a
    /// chat message past it that came first).
    Timer,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Command => "command",
            CloseReason::Timer => "timer",
        }
    }
}

/// One option of a poll and its votes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionCount {
    pub option: String,
    pub votes: u64,
}

/// `votes` as a percentage of `total`, rounded to one decimal (0 when nobody voted).
pub fn percent(votes: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    (votes as f64 * 1000.0 / total as f64).round() / 10.0
}

/// Total votes over every option.
pub fn total(results: &[OptionCount]) -> u64 {
    results.iter().map(|r| r.votes).sum()
}

/// `a 3 (60%), b 2 (40%), c 0 (0%)`: every option in poll order.
pub fn counts_line(results: &[OptionCount]) -> String {
    let total = total(results);
    results
        .iter()
        .map(|r| format!("{} {} ({}%)", r.option, r.votes, percent(r.votes, total)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The options with the most votes (several on a tie; none when nobody voted), in poll order.
pub fn leaders(results: &[OptionCount]) -> Vec<&str> {
    let best = results.iter().map(|r| r.votes).max().unwrap_or(0);
    if best == 0 {
        return Vec::new();
    }
    results
        .iter()
        .filter(|r| r.votes == best)
        .map(|r| r.option.as_str())
        .collect()
}

/// The results as one chat line: question, every option's count and percentage, total, winner.
pub fn results_text(question: &str, results: &[OptionCount]) -> String {
    let total = total(results);
    let outcome = match leaders(results).as_slice() {
        [] => "no votes".to_string(),
        [one] => format!("winner: {one}"),
        tied => format!("tie: {}", tied.join(" / ")),
    };
    format!(
        "Poll closed: {question} | {} | {total} vote{} | {outcome}",
        counts_line(results),
        if total == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(v: &[(&str, u64)]) -> Vec<OptionCount> {
        v.iter()
            .map(|(o, n)| OptionCount {
                option: (*o).into(),
                votes: *n,
            })
            .collect()
    }

    #[test]
    fn percentages_round_to_one_decimal_and_survive_zero_votes() {
        assert_eq!(percent(1, 3), 33.3);
        assert_eq!(percent(2, 3), 66.7);
        assert_eq!(percent(0, 0), 0.0);
        assert_eq!(percent(5, 5), 100.0);
    }

    #[test]
    fn results_name_the_winner_a_tie_or_no_votes() {
        insta::assert_snapshot!(
            [
                results_text("Snack?", &counts(&[("chips", 3), ("nuts", 1), ("fruit", 0)])),
                results_text("Snack?", &counts(&[("chips", 2), ("nuts", 2), ("fruit", 1)])),
                results_text("Snack?", &counts(&[("chips", 0), ("nuts", 0)])),
                results_text("One?", &counts(&[("yes", 1), ("no", 0)])),
            ]
            .join("\n"),
            @r"
        Poll closed: Snack? | chips 3 (75%), nuts 1 (25%), fruit 0 (0%) | 4 votes | winner: chips
        Poll closed: Snack? | chips 2 (40%), nuts 2 (40%), fruit 1 (20%) | 5 votes | tie: chips / nuts
        Poll closed: Snack? | chips 0 (0%), nuts 0 (0%) | 0 votes | no votes
        Poll closed: One? | yes 1 (100%), no 0 (0%) | 1 vote | winner: yes
        "
        );
    }
}
