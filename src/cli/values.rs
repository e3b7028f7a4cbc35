//! Value parsers of command-line arguments shared by several subcommands, each with an error that
//! shows what a good value looks like.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// A duration argument that did not parse.
#[derive(Debug, thiserror::Error)]
#[error("{0} (examples: 10s, 5m, 1h30m)")]
pub struct DurationArgError(humantime::DurationError);

/// A time argument that is not RFC 3339.
#[derive(Debug, thiserror::Error)]
#[error("{0} (example: 2026-11-22T20:15:00Z)")]
pub struct TimeArgError(chrono::ParseError);

/// `10s`, `5m`, `1h30m`, ...
pub fn duration(s: &str) -> Result<Duration, DurationArgError> {
    humantime::parse_duration(s).map_err(DurationArgError)
}

/// An RFC 3339 time, in UTC.
pub fn time(s: &str) -> Result<DateTime<Utc>, TimeArgError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(TimeArgError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_values_parse_and_bad_ones_show_examples() {
        assert_eq!(duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(
            duration("soon")
                .unwrap_err()
                .to_string()
                .contains("examples: 10s")
        );
        assert_eq!(
            time("2026-11-22T21:15:00+01:00").unwrap().to_rfc3339(),
            "2026-11-22T20:15:00+00:00"
        );
        assert!(
            time("yesterday")
                .unwrap_err()
                .to_string()
                .contains("2026-11-22T20:15:00Z")
        );
    }
}
