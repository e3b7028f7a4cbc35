//! Counters of what the runtime refused to take on trust: chat for channels a source never joined,
//! replies addressed to channels the creator's config does not name, emote ranges outside the text,
//! platform timestamps far from the receive time, over-long lines, answers that should have been an
//! event stream and were not, webhook deliveries that fail their signature or do not parse, log
//! lines stderr refused.
//!
//! [`Guards`] belongs to one run: `ss run` makes one, hands it to every source through its
//! `SourceContext`, and exports it as `runtime_snapshot.json` `counters.guards`; a source's session
//! counts where the refusal happens. So two runs in one process (tests, an embedding program) each
//! count their own. Log lines are the exception: logging is process-wide (one stderr, one queue in
//! [`crate::log_sink`], shared by every run in the process), so its drop counter is too; a run
//! reports the drops since it started, which is exact for runs one after another and includes the
//! other's drops for runs at the same time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// One kind of refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Chat events for a channel the source did not join: dropped, never stored or answered.
    ForeignChannelEvent,
    /// Replies addressed to a channel other than the one the creator's config names: not sent.
    ForeignChannelReply,
    /// Emote ranges outside the message text or reversed: dropped from the event.
    EmoteDropped,
    /// Platform timestamps more than `limits.max_clock_skew_s` from the receive time: replaced.
    TimestampReplaced,
    /// Lines longer than `limits.max_line_bytes`: discarded up to their line end.
    LineTooLong,
    /// Answers that should have been an event stream and were not (an HTML page): not read.
    NotEventStream,
    /// Webhook deliveries whose signature is missing or does not verify: answered 401, nothing
    /// recorded.
    WebhookBadSignature,
    /// Signed webhook deliveries whose body is not the JSON object expected: answered 400.
    WebhookMalformed,
    /// Signed webhook deliveries signed too long ago (a replay) or ahead of the clock: answered
    /// 400, nothing recorded.
    WebhookStale,
    /// Events from the wire that do not fit the shape their platform documents (a YouTube or
    /// Rumble item, a Kick frame or event, a Rumble stream message): skipped, each reason logged
    /// with its JSON path; the rest of the page or connection is read on.
    EventsUnreadable,
    /// Deliveries a platform sent again (EventSub's at-least-once delivery, both sockets of a
    /// reconnect): the event is recorded once, the copy dropped at the source.
    Redelivered,
}

impl Guard {
    /// Every per-run guard, in export order.
    const ALL: [Guard; 11] = [
        Guard::ForeignChannelEvent,
        Guard::ForeignChannelReply,
        Guard::EmoteDropped,
        Guard::TimestampReplaced,
        Guard::LineTooLong,
        Guard::NotEventStream,
        Guard::WebhookBadSignature,
        Guard::WebhookMalformed,
        Guard::WebhookStale,
        Guard::EventsUnreadable,
        Guard::Redelivered,
    ];

    /// The key in `counters.guards`.
    pub fn name(self) -> &'static str {
        match self {
            Guard::ForeignChannelEvent => "foreign_channel_events",
            Guard::ForeignChannelReply => "foreign_channel_replies",
            Guard::EmoteDropped => "emotes_dropped",
            Guard::TimestampReplaced => "timestamps_replaced",
            Guard::LineTooLong => "lines_too_long",
            Guard::NotEventStream => "not_event_streams",
            Guard::WebhookBadSignature => "webhook_bad_signatures",
            Guard::WebhookMalformed => "webhook_malformed",
            Guard::WebhookStale => "webhook_stale",
            Guard::EventsUnreadable => "events_unreadable",
            Guard::Redelivered => "redeliveries",
        }
    }
}

/// The guard counters of one run. Shared as an `Arc` by its sources and its exporter.
#[derive(Debug)]
pub struct Guards {
    counts: [AtomicU64; Guard::ALL.len()],
    /// The process-wide log drop count when this run began.
    log_lines_at_start: u64,
}

impl Default for Guards {
    fn default() -> Guards {
        Guards::new()
    }
}

impl Guards {
    pub fn new() -> Guards {
        Guards {
            counts: Default::default(),
            log_lines_at_start: crate::log_sink::lines_dropped(),
        }
    }

    /// Counts `n` refusals of one kind.
    pub fn count(&self, guard: Guard, n: u64) {
        if n > 0 {
            self.counts[guard as usize].fetch_add(n, Ordering::Relaxed);
        }
    }

    /// One guard's count so far.
    pub fn get(&self, guard: Guard) -> u64 {
        self.counts[guard as usize].load(Ordering::Relaxed)
    }

    /// Every guard by its export name; every key is present (0 when nothing was refused).
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        let mut all: BTreeMap<String, u64> = Guard::ALL
            .iter()
            .map(|g| (g.name().to_string(), self.get(*g)))
            .collect();
        all.insert(
            "log_lines_dropped".to_string(),
            crate::log_sink::lines_dropped().saturating_sub(self.log_lines_at_start),
        );
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_run_counts_its_own_and_every_key_is_present() {
        let first = Guards::new();
        first.count(Guard::LineTooLong, 2);
        first.count(Guard::EmoteDropped, 0);
        let second = Guards::new();
        second.count(Guard::LineTooLong, 1);
        assert_eq!(first.snapshot()["lines_too_long"], 2);
        assert_eq!(second.snapshot()["lines_too_long"], 1);
        let keys: Vec<String> = second.snapshot().into_keys().collect();
        assert_eq!(
            keys,
            [
                "emotes_dropped",
                "events_unreadable",
                "foreign_channel_events",
                "foreign_channel_replies",
                "lines_too_long",
                "log_lines_dropped",
                "not_event_streams",
                "redeliveries",
                "timestamps_replaced",
                "webhook_bad_signatures",
                "webhook_malformed",
                "webhook_stale",
            ]
        );
    }
}
