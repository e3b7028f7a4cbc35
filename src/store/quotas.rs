//! Quota usage: units spent per platform and quota day, so a restart cannot overspend a daily quota.

use super::rows::{self, platform};
use super::writer::ApplyError;
use super::{Store, StoreError};
use crate::event::Platform;
use chrono::NaiveDate;
use rusqlite::{Connection, params};
use serde::Serialize;

/// Adds `units` spent on `day` (the platform's quota day) to what was spent before.
pub(super) fn spend(
    conn: &Connection,
    platform_: Platform,
    day: NaiveDate,
    units: i64,
) -> Result<(), ApplyError> {
    conn.prepare_cached(
        "INSERT INTO quota_usage (platform, day, units) VALUES (?1, ?2, ?3)
         ON CONFLICT (platform, day) DO UPDATE SET units = units + excluded.units",
    )?
    .execute(params![platform_.as_str(), day.to_string(), units])?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaRow {
    pub platform: Platform,
    pub day: String,
    pub units: i64,
}

impl Store {
    /// Quota units spent, the `days` most recent days per platform, newest first.
    pub fn quota_usage(&self, days: usize) -> Result<Vec<QuotaRow>, StoreError> {
        self.rows(
            "SELECT platform, day, units FROM (
               SELECT *, ROW_NUMBER() OVER (PARTITION BY platform ORDER BY day DESC) AS n FROM quota_usage)
             WHERE n <= ?1 ORDER BY platform, day DESC",
            params![rows::limit(days)],
            |r| {
                Ok(QuotaRow {
                    platform: platform(r, 0)?,
                    day: r.get(1)?,
                    units: r.get(2)?,
                })
            },
        )
    }
}
