//! The YouTube quota planner: units spent per Google project and Pacific quota day, and the poll
//! interval that makes the day's budget last the whole stream.
//!
//! Google counts quota per project (an API key or an OAuth client), so every source that spends from
//! the same project shares one [`QuotaProject`], found in the run's [`QuotaBook`]. Each call is
//! admitted before it is made ([`QuotaProject::admit`]) and its units recorded at once, in memory and
//! through the [`QuotaJournal`] (the store), so a restart starts from what was spent and cannot
//! overspend. Polls may spend up to `hard_cap_units - reserve_units`; sends and discovery may also use
//! the reserve; nothing is admitted past `hard_cap_units`.
//!
//! The interval: page tokens make a longer wait cost latency, never messages, so the planner spreads
//! the polls left over the rest of the expected stream (`plan_hours` from the chat's start, or until
//! the reset when that comes first), shared among the project's readers. The runner waits the larger
//! of that, the server's `pollingIntervalMillis` and `min_interval_ms`.
//!
//! The quota day is the calendar day in America/Los_Angeles; the US DST rule (second Sunday of March
//! to first Sunday of November, at 02:00 local) is computed here rather than pulling in a time-zone
//! database for one zone.

use super::YoutubeQuota;
use crate::sources::BoxFuture;
use chrono::{DateTime, Datelike, Duration as TimeDelta, NaiveDate, TimeZone, Utc, Weekday};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A Data API method, as counted in the quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Method {
    /// `liveChatMessages.list` (and `streamList`, which costs the same per connection).
    List,
    VideosList,
    SearchList,
    LiveBroadcastsList,
    Insert,
    /// `liveChatBans.insert`: a timeout or a ban.
    BansInsert,
    /// `liveChatMessages.delete`.
    MessagesDelete,
    /// `liveChatBans.delete`: an unban.
    BansDelete,
}

impl Method {
    pub const ALL: [Method; 8] = [
        Method::List,
        Method::VideosList,
        Method::SearchList,
        Method::LiveBroadcastsList,
        Method::Insert,
        Method::BansInsert,
        Method::MessagesDelete,
        Method::BansDelete,
    ];

    /// The name in the store and in admin/quotas.json.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::List => "liveChatMessages.list",
            Method::VideosList => "videos.list",
            Method::SearchList => "search.list",
            Method::LiveBroadcastsList => "liveBroadcasts.list",
            Method::Insert => "liveChatMessages.insert",
            Method::BansInsert => "liveChatBans.insert",
            Method::MessagesDelete => "liveChatMessages.delete",
            Method::BansDelete => "liveChatBans.delete",
        }
    }

    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == name)
    }

    fn cost(self, quota: &YoutubeQuota) -> u32 {
        let c = &quota.costs;
        match self {
            Method::List => c.list,
            Method::VideosList => c.videos_list,
            Method::SearchList => c.search_list,
            Method::LiveBroadcastsList => c.live_broadcasts_list,
            Method::Insert => c.insert,
            Method::BansInsert | Method::MessagesDelete | Method::BansDelete => c.moderation,
        }
    }

    /// Polling stays out of the reserve; sends and discovery may use it.
    fn may_use_reserve(self) -> bool {
        self != Method::List
    }
}

/// Units admitted for one call: what the journal persists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spend {
    pub project: String,
    pub day: NaiveDate,
    pub method: Method,
    pub units: u32,
}

/// Persists spends (the store writer, in `ss run`). Awaited before the call is made.
pub trait QuotaJournal: Send + Sync {
    fn record(&self, spend: Spend) -> BoxFuture<'_, ()>;
}

/// Why a call was not admitted; no call is made before `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Google answered quotaExceeded: nothing until the reset.
    Exhausted { until: DateTime<Utc> },
    /// The planner's own cap for this kind of call is reached for today.
    OverBudget { until: DateTime<Utc> },
}

impl Refused {
    pub fn until(self) -> DateTime<Utc> {
        match self {
            Refused::Exhausted { until } | Refused::OverBudget { until } => until,
        }
    }
}

/// Whether US daylight saving time is in effect at `t`.
fn pacific_dst(t: DateTime<Utc>) -> bool {
    let year = t.year();
    let (start, end) = dst_dates(year);
    // 02:00 PST = 10:00 UTC; 02:00 PDT = 09:00 UTC.
    let start = Utc.from_utc_datetime(&start.and_hms_opt(10, 0, 0).unwrap_or_default());
    let end = Utc.from_utc_datetime(&end.and_hms_opt(9, 0, 0).unwrap_or_default());
    t >= start && t < end
}

/// The second Sunday of March and the first Sunday of November of `year`.
fn dst_dates(year: i32) -> (NaiveDate, NaiveDate) {
    let nth_sunday = |month, n| {
        NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n).unwrap_or_default()
    };
    (nth_sunday(3, 2), nth_sunday(11, 1))
}

/// Hours west of UTC in Pacific time at `t`.
fn pacific_offset_hours(t: DateTime<Utc>) -> i64 {
    if pacific_dst(t) { 7 } else { 8 }
}

/// The Pacific calendar day `t` falls in: the quota day.
pub fn quota_day(t: DateTime<Utc>) -> NaiveDate {
    (t - TimeDelta::hours(pacific_offset_hours(t))).date_naive()
}

/// The next Pacific midnight after `t`: when the quota resets.
pub fn next_reset(t: DateTime<Utc>) -> DateTime<Utc> {
    let next_day = quota_day(t).succ_opt().unwrap_or_default();
    let midnight = next_day.and_hms_opt(0, 0, 0).unwrap_or_default();
    // At local midnight the offset is the one of the day before any 02:00 switch.
    let (start, end) = dst_dates(next_day.year());
    let dst = next_day > start && next_day <= end;
    Utc.from_utc_datetime(&midnight) + TimeDelta::hours(if dst { 7 } else { 8 })
}

/// Calls and units of one method today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct MethodUse {
    pub calls: u64,
    pub units: u64,
}

#[derive(Debug)]
struct State {
    day: NaiveDate,
    by_method: BTreeMap<Method, MethodUse>,
    exhausted_until: Option<DateTime<Utc>>,
    /// Sources reading a chat now, with when their chat started.
    readers: BTreeMap<String, DateTime<Utc>>,
    planned: Option<Duration>,
}

impl State {
    fn used(&self) -> u64 {
        self.by_method.values().map(|m| m.units).sum()
    }

    fn roll(&mut self, now: DateTime<Utc>) {
        let day = quota_day(now);
        if day != self.day {
            self.day = day;
            self.by_method.clear();
        }
        if self.exhausted_until.is_some_and(|until| now >= until) {
            self.exhausted_until = None;
        }
    }
}

/// One Google project's budget, shared by every source that spends from it.
pub struct QuotaProject {
    id: String,
    quota: YoutubeQuota,
    state: Mutex<State>,
    journal: Option<Arc<dyn QuotaJournal>>,
}

impl std::fmt::Debug for QuotaProject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuotaProject")
            .field("id", &self.id)
            .finish()
    }
}

/// What admin/quotas.json shows of one project.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuotaSnapshot {
    pub project: String,
    pub day: NaiveDate,
    pub units_used: u64,
    /// Units left under the hard cap.
    pub units_left: u64,
    pub calls: BTreeMap<&'static str, MethodUse>,
    pub readers: usize,
    pub planned_interval_ms: Option<u64>,
    pub reset_at: DateTime<Utc>,
    /// Set after Google answered quotaExceeded: no calls until then.
    pub exhausted_until: Option<DateTime<Utc>>,
    /// When polling at the planned interval would spend the poll budget; `None` while the plan holds.
    pub projected_exhaustion: Option<DateTime<Utc>>,
}

impl QuotaProject {
    /// A project that has spent `spent` (method → (calls, units)) on `now`'s quota day already.
    pub fn new(
        id: &str,
        quota: YoutubeQuota,
        spent: &[(Method, MethodUse)],
        journal: Option<Arc<dyn QuotaJournal>>,
        now: DateTime<Utc>,
    ) -> QuotaProject {
        QuotaProject {
            id: id.to_owned(),
            quota,
            state: Mutex::new(State {
                day: quota_day(now),
                by_method: spent.iter().copied().collect(),
                exhausted_until: None,
                readers: BTreeMap::new(),
                planned: None,
            }),
            journal,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn quota(&self) -> &YoutubeQuota {
        &self.quota
    }

    fn with<R>(&self, now: DateTime<Utc>, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.roll(now);
        f(&mut state)
    }

    /// Admits one call of `method` at `now` and records its units, or says until when to wait.
    pub fn admit(&self, method: Method, now: DateTime<Utc>) -> Result<Spend, Refused> {
        let cost = u64::from(method.cost(&self.quota));
        let cap = u64::from(if method.may_use_reserve() {
            self.quota.hard_cap_units
        } else {
            self.quota
                .hard_cap_units
                .saturating_sub(self.quota.reserve_units)
        });
        self.with(now, |s| {
            if let Some(until) = s.exhausted_until {
                return Err(Refused::Exhausted { until });
            }
            if s.used() + cost > cap {
                return Err(Refused::OverBudget {
                    until: next_reset(now),
                });
            }
            let entry = s.by_method.entry(method).or_default();
            entry.calls += 1;
            entry.units += cost;
            Ok(Spend {
                project: self.id.clone(),
                day: s.day,
                method,
                units: cost as u32,
            })
        })
    }

    /// Admits a call and persists its spend before it is made.
    pub async fn spend(&self, method: Method, now: DateTime<Utc>) -> Result<(), Refused> {
        let spend = self.admit(method, now)?;
        if let Some(journal) = &self.journal {
            journal.record(spend).await;
        }
        Ok(())
    }

    /// Google said quotaExceeded: no call from this project until the reset.
    pub fn exhausted(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let until = next_reset(now);
        self.with(now, |s| s.exhausted_until = Some(until));
        until
    }

    /// `reader` reads a chat that started at `started` (`None`: stopped reading).
    pub fn set_reader(&self, reader: &str, started: Option<DateTime<Utc>>, now: DateTime<Utc>) {
        self.with(now, |s| match started {
            Some(at) => {
                s.readers.insert(reader.to_owned(), at);
            }
            None => {
                s.readers.remove(reader);
            }
        });
    }

    /// The interval between `reader`'s polls that spreads the poll budget left over the rest of the
    /// planned stream (at least `min_interval_ms`).
    pub fn poll_interval(&self, reader: &str, now: DateTime<Utc>) -> Duration {
        let quota = self.quota;
        let floor = Duration::from_millis(quota.min_interval_ms);
        self.with(now, |s| {
            let reset = next_reset(now);
            let started = s.readers.get(reader).copied().unwrap_or(now);
            let plan = TimeDelta::milliseconds((quota.plan_hours.max(0.0) * 3_600_000.0) as i64);
            let mut end = started + plan;
            if end <= now {
                // Longer than planned: keep reading as long as the day's budget allows.
                end = reset;
            }
            let horizon = (end.min(reset) - now).to_std().unwrap_or_default();
            let poll_cap = u64::from(quota.hard_cap_units.saturating_sub(quota.reserve_units));
            let cost = u64::from(quota.costs.list.max(1));
            let calls_left = poll_cap.saturating_sub(s.used()) / cost;
            let readers = s.readers.len().max(1) as u64;
            let ms = u64::try_from(horizon.as_millis()).unwrap_or(u64::MAX);
            // No polls left today: wait for the reset.
            let planned = ms
                .saturating_mul(readers)
                .checked_div(calls_left)
                .map_or_else(
                    || (reset - now).to_std().unwrap_or_default(),
                    Duration::from_millis,
                );
            let planned = planned.max(floor);
            s.planned = Some(planned);
            planned
        })
    }

    /// The wait before the next discovery call of `method`: at least `configured`, and stretched
    /// so that discovery, repeated until the reset, spends at most half of what is left today
    /// (the other half stays for the stream it finds).
    pub fn discovery_interval(
        &self,
        method: Method,
        configured: Duration,
        now: DateTime<Utc>,
    ) -> Duration {
        let cost = u64::from(method.cost(&self.quota).max(1));
        let left = self.with(now, |s| {
            u64::from(self.quota.hard_cap_units).saturating_sub(s.used())
        });
        let allowance = (left / 2).max(cost);
        let to_reset = (next_reset(now) - now).to_std().unwrap_or_default();
        configured.max(to_reset.mul_f64(cost as f64 / allowance as f64))
    }

    pub fn snapshot(&self, now: DateTime<Utc>) -> QuotaSnapshot {
        let quota = self.quota;
        self.with(now, |s| {
            let used = s.used();
            let reset_at = next_reset(now);
            let poll_left = u64::from(quota.hard_cap_units.saturating_sub(quota.reserve_units))
                .saturating_sub(used);
            let readers = s.readers.len();
            let projected_exhaustion = match s.planned {
                Some(interval) if readers > 0 => {
                    let calls = poll_left / u64::from(quota.costs.list.max(1));
                    let lasts = interval.mul_f64(calls as f64 / readers as f64);
                    let at = now + TimeDelta::from_std(lasts).unwrap_or(TimeDelta::MAX);
                    let plan_end = s
                        .readers
                        .values()
                        .map(|start| {
                            *start
                                + TimeDelta::milliseconds(
                                    (quota.plan_hours.max(0.0) * 3_600_000.0) as i64,
                                )
                        })
                        .max()
                        .unwrap_or(now);
                    // One interval of slack: the planned interval is rounded to milliseconds.
                    let slack = TimeDelta::from_std(interval).unwrap_or_default();
                    (at + slack < reset_at.min(plan_end)).then_some(at)
                }
                _ => None,
            };
            QuotaSnapshot {
                project: self.id.clone(),
                day: s.day,
                units_used: used,
                units_left: u64::from(quota.hard_cap_units).saturating_sub(used),
                calls: s.by_method.iter().map(|(m, u)| (m.as_str(), *u)).collect(),
                readers,
                planned_interval_ms: s
                    .planned
                    .filter(|_| readers > 0)
                    .map(|d| d.as_millis() as u64),
                reset_at,
                exhausted_until: s.exhausted_until,
                projected_exhaustion,
            }
        })
    }
}

/// Loads what a project spent on a quota day (the store, in `ss run`).
pub type SpentLoader<'a> = dyn Fn(&str, NaiveDate) -> Vec<(Method, MethodUse)> + 'a;

/// The run's projects, by id. Cheap to clone; the exporter reads snapshots from it.
#[derive(Clone, Default)]
pub struct QuotaBook {
    projects: Arc<Mutex<BTreeMap<String, Arc<QuotaProject>>>>,
    journal: Option<Arc<dyn QuotaJournal>>,
}

impl std::fmt::Debug for QuotaBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuotaBook").finish_non_exhaustive()
    }
}

impl QuotaBook {
    pub fn new(journal: Option<Arc<dyn QuotaJournal>>) -> QuotaBook {
        QuotaBook {
            projects: Arc::default(),
            journal,
        }
    }

    /// The project `id`, created on first use with what `load` says it spent today.
    pub fn project(
        &self,
        id: &str,
        quota: YoutubeQuota,
        load: &SpentLoader<'_>,
        now: DateTime<Utc>,
    ) -> Arc<QuotaProject> {
        let mut projects = self.projects.lock().unwrap_or_else(|p| p.into_inner());
        projects
            .entry(id.to_owned())
            .or_insert_with(|| {
                Arc::new(QuotaProject::new(
                    id,
                    quota,
                    &load(id, quota_day(now)),
                    self.journal.clone(),
                    now,
                ))
            })
            .clone()
    }

    pub fn snapshots(&self, now: DateTime<Utc>) -> Vec<QuotaSnapshot> {
        let projects = self.projects.lock().unwrap_or_else(|p| p.into_inner());
        projects.values().map(|p| p.snapshot(now)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_quota_day_follows_pacific_time_across_dst() {
        // Winter: PST (UTC-8).
        assert_eq!(
            quota_day(at("2026-01-15T07:59:00Z")).to_string(),
            "2026-01-14"
        );
        assert_eq!(
            quota_day(at("2026-01-15T08:00:00Z")).to_string(),
            "2026-01-15"
        );
        assert_eq!(
            next_reset(at("2026-01-15T07:59:00Z")),
            at("2026-01-15T08:00:00Z")
        );
        // Summer: PDT (UTC-7).
        assert_eq!(
            quota_day(at("2026-07-01T06:59:00Z")).to_string(),
            "2026-06-30"
        );
        assert_eq!(
            next_reset(at("2026-07-01T06:59:00Z")),
            at("2026-07-01T07:00:00Z")
        );
        // 2026-03-08 is the second Sunday of March: the day before resets at 08:00 UTC, that day's
        // own midnight was still PST, the next midnight is PDT.
        assert_eq!(
            next_reset(at("2026-03-07T12:00:00Z")),
            at("2026-03-08T08:00:00Z")
        );
        assert_eq!(
            next_reset(at("2026-03-08T12:00:00Z")),
            at("2026-03-09T07:00:00Z")
        );
        // 2026-11-01 is the first Sunday of November: its midnight is PDT, the next is PST.
        assert_eq!(
            next_reset(at("2026-10-31T12:00:00Z")),
            at("2026-11-01T07:00:00Z")
        );
        assert_eq!(
            next_reset(at("2026-11-01T12:00:00Z")),
            at("2026-11-02T08:00:00Z")
        );
        assert_eq!(
            quota_day(at("2026-11-01T08:30:00Z")).to_string(),
            "2026-11-01"
        );
    }

    #[test]
    fn polls_stay_out_of_the_reserve_and_nothing_passes_the_hard_cap() {
        let now = at("2026-01-15T18:00:00Z");
        let quota = YoutubeQuota::default();
        let project = QuotaProject::new("p", quota, &[], None, now);
        let mut polls = 0;
        while project.admit(Method::List, now).is_ok() {
            polls += 1;
        }
        assert_eq!(polls, (9_500 - 1_000) / 5);
        // The reserve is still there for sends, up to the hard cap.
        let mut sends = 0;
        while project.admit(Method::Insert, now).is_ok() {
            sends += 1;
        }
        assert_eq!(sends, 1_000 / 20, "a reply costs 20 units");
        assert_eq!(project.snapshot(now).units_used, 9_500);
        assert_eq!(
            project.admit(Method::VideosList, now),
            Err(Refused::OverBudget {
                until: at("2026-01-16T08:00:00Z")
            })
        );
        // A new Pacific day starts from zero.
        assert!(
            project
                .admit(Method::List, at("2026-01-16T08:00:01Z"))
                .is_ok()
        );
    }

    #[test]
    fn usage_loaded_from_the_store_counts_and_quota_exceeded_stops_until_the_reset() {
        let now = at("2026-01-15T18:00:00Z");
        let spent = [(
            Method::List,
            MethodUse {
                calls: 1_700,
                units: 8_500,
            },
        )];
        let project = QuotaProject::new("p", YoutubeQuota::default(), &spent, None, now);
        assert!(project.admit(Method::List, now).is_err());
        let project = QuotaProject::new("p", YoutubeQuota::default(), &[], None, now);
        let until = project.exhausted(now);
        assert_eq!(until, at("2026-01-16T08:00:00Z"));
        assert_eq!(
            project.admit(Method::Insert, now),
            Err(Refused::Exhausted { until })
        );
        assert_eq!(project.snapshot(now).exhausted_until, Some(until));
        assert!(project.admit(Method::List, until).is_ok());
    }

    #[test]
    fn the_interval_spreads_the_budget_over_the_planned_stream_and_readers_share_it() {
        let start = at("2026-01-15T18:00:00Z");
        let project = QuotaProject::new("p", YoutubeQuota::default(), &[], None, start);
        project.set_reader("a", Some(start), start);
        // 8 h over 1700 polls: 16.94 s.
        let one = project.poll_interval("a", start);
        assert_eq!(one.as_millis(), 8 * 3_600_000 / 1_700);
        project.set_reader("b", Some(start), start);
        assert_eq!(
            project.poll_interval("a", start).as_millis(),
            2 * 8 * 3_600_000 / 1_700
        );
        let snapshot = project.snapshot(start);
        assert_eq!(snapshot.readers, 2);
        assert_eq!(snapshot.projected_exhaustion, None, "the plan holds");
        // The reset comes before the plan ends: only the time to the reset counts.
        let late = at("2026-01-16T06:00:00Z");
        let project = QuotaProject::new("p", YoutubeQuota::default(), &[], None, late);
        project.set_reader("a", Some(late), late);
        assert_eq!(
            project.poll_interval("a", late).as_millis(),
            2 * 3_600_000 / 1_700
        );
        // Never under the floor.
        let quota = YoutubeQuota {
            min_interval_ms: 30_000,
            ..YoutubeQuota::default()
        };
        let project = QuotaProject::new("p", quota, &[], None, start);
        project.set_reader("a", Some(start), start);
        assert_eq!(project.poll_interval("a", start), Duration::from_secs(30));
    }

    #[test]
    fn discovery_by_search_is_stretched_to_half_of_what_is_left() {
        let now = at("2026-01-15T08:00:00Z");
        let project = QuotaProject::new("p", YoutubeQuota::default(), &[], None, now);
        let five_min = Duration::from_secs(300);
        assert_eq!(
            project.discovery_interval(Method::VideosList, five_min, now),
            five_min
        );
        // 24 h to the reset, 100 units a search, half of 9500 units: one search every ~30 min.
        assert_eq!(
            project
                .discovery_interval(Method::SearchList, five_min, now)
                .as_secs(),
            24 * 3600 * 100 / 4750
        );
    }
}
