//! The sim source: seeded, deterministic synthetic chat for demos, overlay tests and load tests.
//!
//! [`SimChat`] is the pure generator: the same seed gives the same users, roles, messages, commands,
//! emotes, subs and raids in the same order. [`SimSource`] paces it at `rate_per_s` (0 = as fast as
//! the pipeline takes events: it waits for room in the data lane, where a paced sim is shed like any
//! chat past its creator's share), stamps events with the wall clock, and can do every platform command
//! ([`COMMANDS`]): each one the serving loop delivers is recorded in a [`SentLog`], the way a real
//! chat would show it.

pub mod platform;
pub use platform::SIM;

use super::runner::serve::{Delivery, DeliveryError, Part};
use super::runner::session::{SessionEnd, SessionReport, SessionSource};
use super::{BoxFuture, Forwarded, SourceContext};
use crate::command::{CommandSet, CommandSupport, PlatformCommand};
use crate::event::{
    Author, ChatEvent, CompactString, Emote, Emotes, EventDetail, EventKind, Extras, Money, Raid,
    Roles, SubKind, SubTier, Subscription,
};
use chrono::{DateTime, Utc};
use compact_str::format_compact;
pub use platform::SimSettings;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Messages between two polls the broadcaster opens.
const POLL_EVERY: u64 = 1000;
const POLL_OPEN: &str = "!poll open Which game next? | a | b | c 1m";

/// What the sim chat can do: everything, so every command path can be tried without a platform.
pub const COMMANDS: CommandSet = CommandSet::ALL;

/// How many delivered commands the log keeps.
const SENT_LOG_CAPACITY: usize = 1000;
/// The longest message the sim chat takes, in characters (Twitch's, the strictest common one).
const MAX_MESSAGE_CHARS: usize = 500;
/// Pacing tick: events due in each tick are sent together.
const TICK: Duration = Duration::from_millis(10);
/// Events per burst when unpaced (rate 0), between yields to the scheduler.
const UNPACED_BURST: usize = 256;

const ADJECTIVES: [&str; 16] = [
    "happy", "sleepy", "brave", "salty", "cosmic", "quiet", "rapid", "lucky", "mellow", "fuzzy",
    "spicy", "clever", "pixel", "retro", "turbo", "chill",
];
const NOUNS: [&str; 16] = [
    "otter", "falcon", "noodle", "wizard", "panda", "gamer", "toast", "comet", "ninja", "badger",
    "muffin", "raven", "tiger", "goblin", "walrus", "koala",
];
const PHRASES: [&str; 24] = [
    "hello chat",
    "what game is this?",
    "first time here, love the vibe",
    "that was close",
    "lol",
    "no way",
    "can you explain that again?",
    "music is great today",
    "how long have you been streaming?",
    "nice play",
    "unlucky",
    "chat is moving fast",
    "greetings from Brazil",
    "this boss is brutal",
    "take a break soon?",
    "W",
    "ok that was clean",
    "I missed it, what happened?",
    "5 more minutes",
    "the lag is real",
    "true",
    "where is the mod",
    "sub goal when?",
    "good morning from Japan",
];
const HYPE: [&str; 6] = [
    "HYPE",
    "pog pog pog",
    "letsgo!!",
    "this is hype",
    "POG",
    "LETSGO team",
];
const EMOTES: [(&str, &str); 6] = [
    ("25", "Kappa"),
    ("88", "PogChamp"),
    ("425618", "LUL"),
    ("305954156", "PogU"),
    ("1902", "Keepo"),
    ("354", "4Head"),
];

#[derive(Debug, Clone)]
struct SimUser {
    id: CompactString,
    login: CompactString,
    display_name: CompactString,
    roles: Roles,
}

/// The deterministic generator behind the sim source.
#[derive(Debug, Clone)]
pub struct SimChat {
    rng: fastrand::Rng,
    users: Vec<SimUser>,
    creator: CompactString,
    channel: CompactString,
    /// What every message id of this generator starts with: `sim-{run tag}-{creator}-`. The run tag
    /// distinguishes this run's ids from earlier runs with the same seed.
    id_prefix: String,
    next: u64,
}

impl SimChat {
    /// A generator for `creator`'s `channel`; `run_tag` makes message ids unique per run.
    pub fn new(creator: &str, channel: &str, settings: &SimSettings, run_tag: &str) -> SimChat {
        let mut rng = fastrand::Rng::with_seed(settings.seed);
        let count = settings.users.max(1) as usize;
        let users = (0..count)
            .map(|i| {
                let login = if i == 0 {
                    channel.to_lowercase()
                } else {
                    format!(
                        "{}_{}{}",
                        ADJECTIVES[rng.usize(..ADJECTIVES.len())],
                        NOUNS[rng.usize(..NOUNS.len())],
                        rng.u32(1..1000)
                    )
                };
                let roll = rng.f64();
                let roles = Roles {
                    broadcaster: i == 0,
                    moderator: i != 0 && roll < 0.02,
                    vip: (0.02..0.05).contains(&roll),
                    subscriber: i == 0 || roll < 0.30,
                };
                let display_name = capitalize(&login);
                SimUser {
                    id: format_compact!("{}", 100_000 + i),
                    login: login.into(),
                    display_name: display_name.into(),
                    roles,
                }
            })
            .collect();
        SimChat {
            rng,
            users,
            creator: creator.into(),
            channel: channel.into(),
            id_prefix: format!("sim-{run_tag}-{creator}-"),
            next: 0,
        }
    }

    /// The next event, stamped `at`.
    pub fn next_event(&mut self, at: DateTime<Utc>) -> ChatEvent {
        self.next += 1;
        // Activity is skewed: a few regulars write most messages, as in real chat.
        let pick = (self.rng.f64().powi(3) * self.users.len() as f64) as usize;
        let user = self.users[pick.min(self.users.len() - 1)].clone();
        let roll = self.rng.f64();
        let mut kind = EventKind::Message;
        let extras = Extras::new();
        let mut detail = None;
        let mut emotes = Emotes::new();
        let text = match roll {
            r if r < 0.02 => static_text("!ping"),
            r if r < 0.05 => static_text(["!vote a", "!vote b", "!vote c"][self.rng.usize(..3)]),
            r if r < 0.055 => static_text("!clip"),
            r if r < 0.13 => static_text(HYPE[self.rng.usize(..HYPE.len())]),
            r if r < 0.17 => static_text(["gg", "GG wp", "ggg"][self.rng.usize(..3)]),
            r if r < 0.175 => {
                kind = EventKind::Subscription;
                let mut sub = Subscription::new(SubKind::New);
                sub.tier = Some(SubTier::Tier1);
                detail = Some(EventDetail::Subscription(sub));
                CompactString::default()
            }
            r if r < 0.177 => {
                kind = EventKind::Subscription;
                let mut sub = Subscription::new(SubKind::Resub);
                sub.tier = Some(SubTier::Tier1);
                sub.months = Some(self.rng.u32(2..40));
                detail = Some(EventDetail::Subscription(sub));
                static_text("another month!")
            }
            r if r < 0.178 => {
                kind = EventKind::Subscription;
                let mut sub = Subscription::new(SubKind::CommunityGift);
                sub.tier = Some(SubTier::Tier1);
                sub.count = Some(self.rng.u32(1..20));
                detail = Some(EventDetail::Subscription(sub));
                CompactString::default()
            }
            r if r < 0.1785 => {
                kind = EventKind::Raid;
                detail = Some(EventDetail::Raid(Raid {
                    viewers: self.rng.u64(5..2000),
                }));
                CompactString::default()
            }
            r if r < 0.181 => {
                kind = EventKind::Cheer;
                detail = Some(EventDetail::Money(Money {
                    amount: f64::from(self.rng.u32(1..50) * 100),
                    currency: "bits".into(),
                    display: None,
                    tier: None,
                }));
                static_text("cheer100 keep it up")
            }
            _ => {
                let phrase = PHRASES[self.rng.usize(..PHRASES.len())];
                if self.rng.f64() < 0.25 {
                    let (id, name) = EMOTES[self.rng.usize(..EMOTES.len())];
                    let start = phrase.chars().count() as u32 + 1;
                    emotes.push(Emote {
                        id: id.into(),
                        start,
                        end: start + name.chars().count() as u32 - 1,
                    });
                    format_compact!("{phrase} {name}")
                } else {
                    static_text(phrase)
                }
            }
        };
        // The broadcaster runs the polls everyone else votes in: one opens with the first message
        // and every POLL_EVERY after it, and closes halfway (its 1 m timer closes it first when
        // chat is slow). Drawn after the roll, so the rest of the chat is the same as without.
        let poll_command = match self.next % POLL_EVERY {
            1 => Some(POLL_OPEN),
            n if n == POLL_EVERY / 2 => Some("!poll close"),
            _ => None,
        };
        let (user, text, kind) = match poll_command {
            Some(command) => {
                emotes = Emotes::new();
                detail = None;
                (
                    self.users[0].clone(),
                    static_text(command),
                    EventKind::Message,
                )
            }
            None => (user, text, kind),
        };
        ChatEvent {
            platform: crate::sources::sim::SIM,
            creator: self.creator.clone(),
            channel: self.channel.clone(),
            message_id: self.message_id(),
            timestamp: at,
            kind,
            author: Author {
                id: user.id,
                login: user.login,
                display_name: user.display_name,
                roles: user.roles,
            },
            text,
            emotes,
            detail: detail.map(Box::new),
            extras,
            shared_from: None,
        }
    }

    /// The id of the current message. Unique per run, creator and message (creators share the
    /// platform, and their sources start in the same millisecond); zero-padded so one creator's ids
    /// sort in arrival order, as most platforms' ids do. The run tag has no `-` and the number a
    /// fixed width, so no two (creator, number) pairs give the same id.
    fn message_id(&self) -> CompactString {
        let mut id = CompactString::with_capacity(self.id_prefix.len() + 10);
        id.push_str(&self.id_prefix);
        let mut digits = [b'0'; 10];
        let mut n = self.next;
        for digit in digits.iter_mut().rev() {
            *digit = b'0' + (n % 10) as u8;
            n /= 10;
        }
        // Past 10 digits the number keeps growing: all of it is written, as `{:010}` would.
        if n > 0 {
            id.push_str(&n.to_string());
        }
        id.push_str(std::str::from_utf8(&digits).unwrap_or_default());
        id
    }
}

/// Text the sim always says the same way, kept by reference rather than copied per event.
fn static_text(text: &'static str) -> CompactString {
    CompactString::const_new(text)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Commands the sim chat carried out (one entry per delivered part), newest last (bounded).
#[derive(Debug, Clone, Default)]
pub struct SentLog(Arc<Mutex<VecDeque<PlatformCommand>>>);

impl SentLog {
    fn push(&self, message: PlatformCommand) {
        let mut log = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() == SENT_LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(message);
    }

    /// A copy of the log.
    pub fn messages(&self) -> Vec<PlatformCommand> {
        let log = self.0.lock().unwrap_or_else(|p| p.into_inner());
        log.iter().cloned().collect()
    }
}

/// The sim source for one creator.
pub struct SimSource {
    chat: SimChat,
    rate_per_s: f64,
    sent: SentLog,
}

impl SimSource {
    pub fn new(creator: &str, settings: &SimSettings) -> SimSource {
        let channel = settings
            .channel
            .clone()
            .unwrap_or_else(|| creator.to_string());
        let run_tag = format!("{:x}", Utc::now().timestamp_millis());
        SimSource {
            chat: SimChat::new(creator, &channel, settings, &run_tag),
            rate_per_s: settings.rate_per_s,
            sent: SentLog::default(),
        }
    }

    /// The log of replies this source was sent.
    pub fn sent_log(&self) -> SentLog {
        self.sent.clone()
    }

    /// Hands the next paced event over: the sim is then a chat like any other, shed past its
    /// creator's share of the data lane. (Unpaced, at rate 0, it sends bursts that wait for room
    /// instead: see `serve`.)
    async fn emit(&mut self, ctx: &SourceContext) -> bool {
        let event = self.chat.next_event(Utc::now());
        ctx.forward(event).await == Forwarded::Continue
    }

    /// One session: the sim chat never disconnects, so it lasts until shutdown.
    async fn serve(&mut self, ctx: &mut SourceContext) -> SessionEnd {
        ctx.report.connected();
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let per_tick = self.rate_per_s * TICK.as_secs_f64();
        let mut due = 0.0f64;
        loop {
            tokio::select! {
                biased;
                () = ctx.shutdown.cancelled() => return SessionEnd::Shutdown,
                _ = ticker.tick(), if self.rate_per_s > 0.0 => {
                    due += per_tick;
                    while due >= 1.0 {
                        due -= 1.0;
                        if !self.emit(ctx).await {
                            return SessionEnd::PipelineClosed;
                        }
                    }
                }
                () = std::future::ready(()), if self.rate_per_s <= 0.0 => {
                    // A burst is made in far less than a millisecond: one time stamps it all.
                    let at = Utc::now();
                    let burst = (0..UNPACED_BURST).map(|_| self.chat.next_event(at)).collect();
                    if ctx.forward_waiting_all(burst).await == Forwarded::PipelineClosed {
                        return SessionEnd::PipelineClosed;
                    }
                    tokio::task::yield_now().await;
                }
            }
        }
    }
}

impl Delivery for SentLog {
    fn max_chars(&self, _command: &PlatformCommand) -> usize {
        MAX_MESSAGE_CHARS
    }

    fn deliver<'a>(&'a mut self, part: &'a Part) -> BoxFuture<'a, Result<(), DeliveryError>> {
        tracing::debug!(platform = "sim", channel = %part.command.channel, cause = %part.command.cause, command = %part.command.kind.name(), "Sim chat carried out a command.");
        self.push(part.command.clone());
        Box::pin(std::future::ready(Ok(())))
    }
}

impl SessionSource for SimSource {
    fn commands(&self) -> CommandSupport {
        CommandSupport::new(COMMANDS, "")
    }

    fn delivery(&mut self, _ctx: &SourceContext) -> Box<dyn Delivery> {
        Box::new(self.sent.clone())
    }

    fn session<'a>(&'a mut self, ctx: &'a mut SourceContext) -> BoxFuture<'a, SessionReport> {
        Box::pin(async move {
            let started = std::time::Instant::now();
            let end = self.serve(ctx).await;
            SessionReport {
                result: Ok(end),
                connected_for: Some(started.elapsed()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn settings(seed: u64) -> SimSettings {
        SimSettings {
            seed,
            ..SimSettings::default()
        }
    }

    fn texts(seed: u64, n: usize) -> Vec<(String, String, EventKind)> {
        let mut chat = SimChat::new("demo", "demo", &settings(seed), "t");
        let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        (0..n)
            .map(|_| {
                let e = chat.next_event(at);
                (e.author.login.to_string(), e.text.to_string(), e.kind)
            })
            .collect()
    }

    #[test]
    fn same_seed_same_chat_other_seed_other_chat() {
        assert_eq!(texts(7, 500), texts(7, 500));
        assert_ne!(texts(7, 500), texts(8, 500));
    }

    #[test]
    fn chat_is_realistic_enough_to_drive_the_demo_triggers() {
        let all = texts(7, 20_000);
        let count =
            |f: &dyn Fn(&(String, String, EventKind)) -> bool| all.iter().filter(|x| f(x)).count();
        assert!(count(&|x| x.1 == "!ping") > 200);
        assert!(count(&|x| x.1.starts_with("!vote ")) > 400);
        assert!(count(&|x| x.2 == EventKind::Subscription) > 20);
        assert!(count(&|x| x.2 == EventKind::Raid) > 2);
        let users: std::collections::HashSet<_> = all.iter().map(|x| &x.0).collect();
        assert!(users.len() > 100, "{}", users.len());
    }

    #[tokio::test(start_paused = true)]
    async fn the_sim_chat_paces_events_and_records_the_commands_it_is_sent() {
        use crate::command::{CommandKind, TargetUser};
        use crate::lanes::{DataLane, Inbound};
        use crate::sources::ConnectionState;
        use crate::sources::runner::{Wiring, session};

        let lane = DataLane::new(1024, std::time::Duration::from_millis(250));
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let wiring = Wiring::new("demo", crate::sources::sim::SIM, lane.sink.clone(), rx);
        let (shutdown, status) = (wiring.shutdown.clone(), wiring.status.clone());
        let stats = wiring.command_stats.clone();
        let (ctx, track, serving) = wiring.build();
        let source = SimSource::new(
            "demo",
            &SimSettings {
                rate_per_s: 100.0,
                ..settings(7)
            },
        );
        let log = source.sent_log();
        let command = |kind| PlatformCommand {
            creator: "demo".into(),
            platform: crate::sources::sim::SIM,
            channel: "demo".into(),
            cause: "sim-1".into(),
            kind,
            receipt: false,
        };
        let reply = command(CommandKind::Reply {
            text: "pong".into(),
            reply_to: "sim-1".into(),
        });
        let timeout = command(CommandKind::Timeout {
            user: TargetUser {
                id: "100001".into(),
                login: "spammer".into(),
            },
            seconds: 600,
            reason: Some("spam".into()),
        });
        for c in [&reply, &timeout] {
            stats.queued();
            tx.send(c.clone()).await.unwrap();
        }
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            shutdown.cancel();
        });
        session::run(Box::new(source), ctx, track, serving).await;
        stopper.await.unwrap();
        assert_eq!(log.messages(), [reply, timeout]);
        assert_eq!(stats.snapshot().sent, 2);
        let mut receiver = lane.receiver;
        let mut n = 0;
        while let Ok(Inbound::Event(_)) = receiver.try_recv() {
            n += 1;
        }
        // 100 events/s for 2 s of (paused, so exact) time.
        assert!((195..=201).contains(&n), "{n} events");
        assert_eq!(status.snapshot().state, ConnectionState::Stopped);
    }

    #[test]
    fn message_ids_differ_between_creators_of_one_run() {
        // Two creators' sources start in the same millisecond, so they share the run tag.
        let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let mut ids = std::collections::HashSet::new();
        for creator in ["a", "b", "a-b", "b-1"] {
            let mut chat = SimChat::new(creator, creator, &settings(7), "t");
            for _ in 0..100 {
                let id = chat.next_event(at).message_id;
                assert!(ids.insert(id.clone()), "{creator}: {id} seen before");
            }
        }
    }

    #[test]
    fn message_ids_are_the_prefix_and_the_zero_padded_number() {
        let mut chat = SimChat::new("demo", "demo", &settings(7), "18f2c");
        for next in [
            1,
            42,
            9_999_999_999,
            10_000_000_000,
            123_456_789_012,
            u64::MAX,
        ] {
            chat.next = next;
            assert_eq!(chat.message_id(), format!("sim-18f2c-demo-{next:010}"));
        }
        let first = SimChat::new("demo", "demo", &settings(7), "18f2c")
            .next_event(Utc::now())
            .message_id;
        assert_eq!(first, "sim-18f2c-demo-0000000001");
    }

    #[test]
    fn emote_ranges_point_at_the_emote_text() {
        let mut chat = SimChat::new("demo", "demo", &settings(3), "t");
        let at = Utc::now();
        let mut seen = 0;
        for _ in 0..2000 {
            let e = chat.next_event(at);
            for emote in &e.emotes {
                let name: String = e
                    .text
                    .chars()
                    .skip(emote.start as usize)
                    .take((emote.end - emote.start + 1) as usize)
                    .collect();
                assert!(
                    EMOTES.iter().any(|(id, n)| *id == emote.id && *n == name),
                    "{name}"
                );
                seen += 1;
            }
        }
        assert!(seen > 100);
    }
}
