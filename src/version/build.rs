//! Build identifiers: `YYYY.MM.DD+NNN`, the release date and that day's sequence number.
//!
//! A build names one stamped release. Several releases can happen on one day, so the sequence counts
//! them: the first build of 2026-11-22 is `2026.11.22+001`, the next `2026.11.22+002`. Build ids sort
//! by date, then sequence, which is what the downgrade check compares when the version stays the same.

use chrono::{Datelike, NaiveDate};
use std::fmt;
use std::str::FromStr;

/// The highest sequence number a day can have: three digits.
pub const MAX_SEQUENCE: u16 = 999;

/// Why a build id cannot be read or made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error(
        "build {text:?} is not YYYY.MM.DD+NNN (a date and a three-digit sequence, e.g. 2026.11.22+001)"
    )]
    Shape { text: String },
    #[error("build {text:?} has sequence 000; a day's builds count from 001")]
    ZeroSequence { text: String },
    #[error(
        "build {last} was the last one today ({MAX_SEQUENCE} builds a day)\n  hint: pass --build with another date"
    )]
    DayFull { last: BuildId },
}

/// Why a release date cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("{text:?} is not a date in the form YYYY.MM.DD")]
    Shape { text: String },
    #[error("{text:?} is not a calendar date")]
    NotCalendar { text: String },
}

/// `2026.11.22+001`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BuildId {
    pub date: NaiveDate,
    /// 1 to [`MAX_SEQUENCE`].
    pub sequence: u16,
}

impl BuildId {
    /// The build after `current` on `today`: the next sequence number when `current` is from `today`,
    /// else `+001`. Errors when today's sequence numbers are used up.
    pub fn next(today: NaiveDate, current: Option<BuildId>) -> Result<BuildId, BuildError> {
        let sequence = match current {
            Some(current) if current.date == today => {
                if current.sequence >= MAX_SEQUENCE {
                    return Err(BuildError::DayFull { last: current });
                }
                current.sequence + 1
            }
            _ => 1,
        };
        Ok(BuildId {
            date: today,
            sequence,
        })
    }
}

impl fmt::Display for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{:03}", format_date(self.date), self.sequence)
    }
}

impl FromStr for BuildId {
    type Err = BuildError;

    fn from_str(text: &str) -> Result<BuildId, BuildError> {
        let shape = || BuildError::Shape {
            text: text.to_string(),
        };
        let (date, sequence) = text.split_once('+').ok_or_else(shape)?;
        if sequence.len() != 3 || !sequence.bytes().all(|b| b.is_ascii_digit()) {
            return Err(shape());
        }
        let date = parse_date(date).map_err(|_| shape())?;
        let sequence: u16 = sequence.parse().map_err(|_| shape())?;
        if sequence == 0 {
            return Err(BuildError::ZeroSequence {
                text: text.to_string(),
            });
        }
        Ok(BuildId { date, sequence })
    }
}

/// Parses `YYYY.MM.DD` (the date part of a build, and `SS_BUILD_DATE`): four, two and two digits
/// naming a real calendar day.
pub fn parse_date(text: &str) -> Result<NaiveDate, DateError> {
    let shape_ok = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'.',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(DateError::Shape {
            text: text.to_string(),
        });
    }
    NaiveDate::parse_from_str(text, "%Y.%m.%d").map_err(|_| DateError::NotCalendar {
        text: text.to_string(),
    })
}

/// `2026.11.22`.
pub fn format_date(date: NaiveDate) -> String {
    format!("{:04}.{:02}.{:02}", date.year(), date.month(), date.day())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn parses_and_prints_the_same_text() {
        let build: BuildId = "2026.11.22+001".parse().unwrap();
        assert_eq!(build.date, day(2026, 11, 22));
        assert_eq!(build.sequence, 1);
        assert_eq!(build.to_string(), "2026.11.22+001");
    }

    #[test]
    fn rejects_other_shapes_with_the_expected_form() {
        for bad in [
            "",
            "2026.11.22",
            "2026.11.22+1",
            "2026.11.22+0001",
            "2026-11-22+001",
            "2026.13.01+001",
            "2026.02.30+001",
            "26.11.22+001",
            "2026.11.22+00a",
            " 2026.11.22+001",
        ] {
            let err = bad.parse::<BuildId>().unwrap_err();
            assert_eq!(
                err,
                BuildError::Shape {
                    text: bad.to_string()
                }
            );
            assert!(err.to_string().contains("YYYY.MM.DD+NNN"), "{bad:?}: {err}");
        }
        assert!(
            "2026.11.22+000"
                .parse::<BuildId>()
                .unwrap_err()
                .to_string()
                .contains("001")
        );
    }

    #[test]
    fn next_counts_within_a_day_and_restarts_on_a_new_day() {
        let today = day(2026, 11, 22);
        let first = BuildId::next(today, None).unwrap();
        assert_eq!(first.to_string(), "2026.11.22+001");
        let second = BuildId::next(today, Some(first)).unwrap();
        assert_eq!(second.to_string(), "2026.11.22+002");
        let yesterday = "2026.11.21+007".parse().ok();
        assert_eq!(
            BuildId::next(today, yesterday).unwrap().to_string(),
            "2026.11.22+001"
        );
        let last = "2026.11.22+999".parse().ok();
        let full = BuildId::next(today, last).unwrap_err();
        assert!(matches!(full, BuildError::DayFull { .. }));
        assert!(
            full.to_string().contains("2026.11.22+999 was the last one"),
            "{full}"
        );
    }

    #[test]
    fn builds_sort_by_date_then_sequence() {
        let a: BuildId = "2026.11.22+002".parse().unwrap();
        let b: BuildId = "2026.11.23+001".parse().unwrap();
        let c: BuildId = "2026.11.22+010".parse().unwrap();
        assert!(a < b && a < c && c < b);
    }

    proptest! {
        #[test]
        fn valid_builds_round_trip(y in 1000i32..9999, m in 1u32..=12, d in 1u32..=28, s in 1u16..=999) {
            let text = format!("{y:04}.{m:02}.{d:02}+{s:03}");
            let build: BuildId = text.parse().unwrap();
            prop_assert_eq!(build.to_string(), text);
        }

        #[test]
        fn never_panics_on_arbitrary_text(text in ".*") {
            let _ = text.parse::<BuildId>();
        }
    }
}
