//! Column readers shared by every domain's queries: times, platforms, counts and event strings.
//!
//! A value the writer could not have written (an unknown platform name, malformed JSON) is a
//! conversion error naming the column and the value, never a silent default: a row that does not
//! parse is reported, because it means the database was edited or damaged outside `ss`.

use crate::event::{CompactString, Platform};
use chrono::{DateTime, Utc};
use rusqlite::Row;
use rusqlite::types::Type;

/// Unix milliseconds, the one time format of the store.
pub(crate) fn ms(at: &DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// Reads a millisecond column as a time.
pub(crate) fn time(row: &Row<'_>, index: usize) -> rusqlite::Result<DateTime<Utc>> {
    let ms: i64 = row.get(index)?;
    DateTime::from_timestamp_millis(ms).ok_or_else(|| invalid(index, format!("time {ms} ms")))
}

/// Reads a nullable millisecond column.
pub(crate) fn opt_time(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    match row.get::<_, Option<i64>>(index)? {
        None => Ok(None),
        Some(_) => time(row, index).map(Some),
    }
}

/// Reads a platform name column; an unknown name is a conversion error naming the value.
pub(crate) fn platform(row: &Row<'_>, index: usize) -> rusqlite::Result<Platform> {
    let name = row.get_ref(index)?.as_str()?;
    Platform::from_name(name).ok_or_else(|| invalid(index, format!("unknown platform {name:?}")))
}

/// Reads a text column into an event string (short values stay inline).
pub(crate) fn text(row: &Row<'_>, index: usize) -> rusqlite::Result<CompactString> {
    row.get_ref(index)?
        .as_str()
        .map(CompactString::from)
        .map_err(Into::into)
}

/// Reads a non-negative count.
pub(crate) fn count(row: &Row<'_>, index: usize) -> rusqlite::Result<u64> {
    let n: i64 = row.get(index)?;
    u64::try_from(n).map_err(|_| invalid(index, format!("negative count {n}")))
}

/// A conversion error for column `index`, saying what was found.
pub(crate) fn invalid(index: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, Type::Text, what.into())
}

/// `limit` as an SQL integer (`usize::MAX` means no limit).
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
