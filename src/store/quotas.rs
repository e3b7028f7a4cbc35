//! Quota usage: units spent per platform and quota day, and (YouTube) per Google project, quota day
//! and method, so a restart cannot overspend a daily quota.

use super::apply::ApplyError;
use super::error::StoreError;
use super::open::StoreReader;
use super::rows::{self, platform};
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

/// Adds one call of `method` costing `units` to what `project` spent on `day`.
pub(super) fn spend_project(
    conn: &Connection,
    project: &str,
    day: NaiveDate,
    method: &str,
    units: i64,
) -> Result<(), ApplyError> {
    conn.prepare_cached(
        "INSERT INTO quota_project_usage (project, day, method, calls, units) VALUES (?1, ?2, ?3, 1, ?4)
         ON CONFLICT (project, day, method) DO UPDATE SET calls = calls + 1, units = units + excluded.units",
    )?
    .execute(params![project, day.to_string(), method, units])?;
    Ok(())
}

/// Calls and units of one method by one project on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectQuotaRow {
    pub project: String,
    pub day: String,
    pub method: String,
    pub calls: i64,
    pub units: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaRow {
    pub platform: Platform,
    pub day: String,
    pub units: i64,
}

impl StoreReader {
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

    /// What each project spent on `day`, by method.
    pub fn project_quota_usage(&self, day: NaiveDate) -> Result<Vec<ProjectQuotaRow>, StoreError> {
        self.rows(
            "SELECT project, day, method, calls, units FROM quota_project_usage WHERE day = ?1
             ORDER BY project, method",
            params![day.to_string()],
            |r| {
                Ok(ProjectQuotaRow {
                    project: r.get(0)?,
                    day: r.get(1)?,
                    method: r.get(2)?,
                    calls: r.get(3)?,
                    units: r.get(4)?,
                })
            },
        )
    }
}
