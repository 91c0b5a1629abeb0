//! Rollups and retention. Complete hours of raw results become one row per check, metric
//! and hour (count, min, avg, max, p95) plus status counts; then raw results older than
//! `keep_results` and rollups older than `keep_rollups` are deleted.

use std::collections::BTreeMap;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Maintenance {
    pub hours_rolled_up: i64,
    pub rollup_rows: u64,
    pub results_deleted: u64,
    pub rollups_deleted: u64,
    pub incidents_deleted: u64,
}

#[derive(Default)]
struct Hour {
    metrics: BTreeMap<String, Vec<f64>>,
    counts: [i64; 4],
}

pub fn run(conn: &mut Connection, now_ms: i64, keep_results: Duration, keep_rollups: Duration) -> rusqlite::Result<Maintenance> {
    let mut m = Maintenance::default();
    let current_hour = now_ms.div_euclid(HOUR_MS);
    let tx = conn.transaction()?;
    let done_until: Option<i64> =
        tx.query_row("SELECT value FROM meta WHERE key = 'rolled_until'", [], |r| r.get::<_, String>(0)).optional()?.and_then(|v| v.parse().ok());
    let checks: Vec<i64> = tx.prepare("SELECT id FROM checks")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let raw_cutoff = now_ms - keep_results.as_millis() as i64;
    {
        let mut select = tx.prepare_cached(
            "SELECT ts, status, duration_us, metrics FROM results WHERE check_id = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts",
        )?;
        let mut put = tx.prepare_cached(
            "INSERT OR REPLACE INTO rollups (check_id, metric, hour, n, min, avg, max, p95) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut put_counts = tx.prepare_cached(
            "INSERT OR REPLACE INTO hourly (check_id, hour, ok, warning, critical, unknown) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut first = i64::MAX;
        for &id in &checks {
            // From where the last run stopped; on the first run, from the oldest result.
            let from = match done_until {
                Some(h) => h * HOUR_MS,
                None => tx
                    .query_row("SELECT MIN(ts) FROM results WHERE check_id = ?1", [id], |r| r.get::<_, Option<i64>>(0))?
                    .map(|t| t.div_euclid(HOUR_MS) * HOUR_MS)
                    .unwrap_or(current_hour * HOUR_MS),
            };
            first = first.min(from.div_euclid(HOUR_MS));
            let mut hours: BTreeMap<i64, Hour> = BTreeMap::new();
            let rows = select.query_map(params![id, from, current_hour * HOUR_MS], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, Option<String>>(3)?))
            })?;
            for row in rows {
                let (ts, status, duration_us, metrics) = row?;
                let h = hours.entry(ts.div_euclid(HOUR_MS)).or_default();
                h.counts[status.clamp(0, 3) as usize] += 1;
                h.metrics.entry("duration".into()).or_default().push(duration_us as f64 / 1e6);
                if let Some(Ok(serde_json::Value::Object(map))) = metrics.map(|t| serde_json::from_str(&t)) {
                    for (k, v) in map {
                        if let Some(v) = v.as_f64() {
                            h.metrics.entry(k).or_default().push(v);
                        }
                    }
                }
            }
            for (hour, h) in hours {
                for (metric, mut values) in h.metrics {
                    values.sort_by(f64::total_cmp);
                    let n = values.len();
                    let avg = values.iter().sum::<f64>() / n as f64;
                    // Nearest-rank 95th percentile.
                    let p95 = values[((0.95 * n as f64).ceil() as usize).clamp(1, n) - 1];
                    put.execute(params![id, metric, hour, n as i64, values[0], avg, values[n - 1], p95])?;
                    m.rollup_rows += 1;
                }
                let [ok, warning, critical, unknown] = h.counts;
                put_counts.execute(params![id, hour, ok, warning, critical, unknown])?;
            }
            m.results_deleted += tx.execute("DELETE FROM results WHERE check_id = ?1 AND ts < ?2", params![id, raw_cutoff])? as u64;
        }
        if first != i64::MAX {
            m.hours_rolled_up = (current_hour - first).max(0);
        }
    }
    tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('rolled_until', ?1)", [current_hour.to_string()])?;
    let rollup_cutoff = (now_ms - keep_rollups.as_millis() as i64).div_euclid(HOUR_MS);
    m.rollups_deleted = tx.execute("DELETE FROM rollups WHERE hour < ?1", [rollup_cutoff])? as u64;
    tx.execute("DELETE FROM hourly WHERE hour < ?1", [rollup_cutoff])?;
    m.incidents_deleted =
        tx.execute("DELETE FROM incidents WHERE resolved IS NOT NULL AND resolved < ?1", [rollup_cutoff * HOUR_MS])? as u64;
    tx.commit()?;
    Ok(m)
}
