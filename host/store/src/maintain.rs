//! Rollups and retention. Complete hours of raw results become one row per check and hour:
//! status counts, and per metric the count, min, avg, max and p95 packed into a blob; then
//! raw results older than `keep_results` and rollups older than `keep_rollups` are deleted.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Maintenance {
    pub hours_rolled_up: i64,
    /// Check-hours written.
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

/// One metric's summary of one hour, as packed into `hours.metrics`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Packed {
    pub name_id: u16,
    pub n: u32,
    pub min: f32,
    pub avg: f32,
    pub max: f32,
    pub p95: f32,
}

const PACKED_LEN: usize = 2 + 4 + 4 * 4;

/// Little-endian, 22 bytes per metric. f32 keeps 7 significant digits: more than any
/// check measures, at half the bytes of SQLite's REAL.
pub fn pack(metrics: &[Packed]) -> Vec<u8> {
    let mut out = Vec::with_capacity(metrics.len() * PACKED_LEN);
    for m in metrics {
        out.extend_from_slice(&m.name_id.to_le_bytes());
        out.extend_from_slice(&m.n.to_le_bytes());
        for v in [m.min, m.avg, m.max, m.p95] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

pub fn unpack(blob: &[u8]) -> Vec<Packed> {
    blob.chunks_exact(PACKED_LEN)
        .map(|c| {
            let f = |i: usize| f32::from_le_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
            Packed {
                name_id: u16::from_le_bytes([c[0], c[1]]),
                n: u32::from_le_bytes([c[2], c[3], c[4], c[5]]),
                min: f(6),
                avg: f(10),
                max: f(14),
                p95: f(18),
            }
        })
        .collect()
}

/// Metric names by id, as interned in `metric_names`.
pub fn metric_names(conn: &rusqlite::Connection) -> rusqlite::Result<HashMap<u16, String>> {
    let mut stmt = conn.prepare_cached("SELECT id, name FROM metric_names")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)? as u16, r.get::<_, String>(1)?)))?;
    rows.collect()
}

pub fn run(conn: &mut Connection, now_ms: i64, keep_results: Duration, keep_rollups: Duration) -> rusqlite::Result<Maintenance> {
    let mut m = Maintenance::default();
    let current_hour = now_ms.div_euclid(HOUR_MS);
    let tx = conn.transaction()?;
    let done_until: Option<i64> = tx
        .query_row("SELECT value FROM meta WHERE key = 'rolled_until'", [], |r| r.get::<_, String>(0))
        .optional()?
        .and_then(|v| v.parse().ok());
    let checks: Vec<i64> = tx.prepare("SELECT id FROM checks")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let raw_cutoff = now_ms - keep_results.as_millis() as i64;
    {
        let mut select = tx.prepare_cached(
            "SELECT ts, status, duration_us, metrics FROM results WHERE check_id = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts",
        )?;
        let mut put = tx.prepare_cached(
            "INSERT OR REPLACE INTO hours (check_id, hour, ok, warning, critical, unknown, metrics) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut name_ids: HashMap<String, u16> = metric_names(&tx)?.into_iter().map(|(id, n)| (n, id)).collect();
        let mut intern = |tx: &rusqlite::Transaction<'_>, name: &str| -> rusqlite::Result<u16> {
            if let Some(id) = name_ids.get(name) {
                return Ok(*id);
            }
            tx.execute("INSERT OR IGNORE INTO metric_names (name) VALUES (?1)", [name])?;
            let id: i64 = tx.query_row("SELECT id FROM metric_names WHERE name = ?1", [name], |r| r.get(0))?;
            name_ids.insert(name.to_string(), id as u16);
            Ok(id as u16)
        };
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
                let mut packed = Vec::with_capacity(h.metrics.len());
                for (metric, mut values) in h.metrics {
                    values.sort_by(f64::total_cmp);
                    let n = values.len();
                    let avg = values.iter().sum::<f64>() / n as f64;
                    // Nearest-rank 95th percentile.
                    let p95 = values[((0.95 * n as f64).ceil() as usize).clamp(1, n) - 1];
                    packed.push(Packed {
                        name_id: intern(&tx, &metric)?,
                        n: n as u32,
                        min: values[0] as f32,
                        avg: avg as f32,
                        max: values[n - 1] as f32,
                        p95: p95 as f32,
                    });
                }
                let [ok, warning, critical, unknown] = h.counts;
                put.execute(params![id, hour, ok, warning, critical, unknown, pack(&packed)])?;
                m.rollup_rows += 1;
            }
            m.results_deleted += tx.execute("DELETE FROM results WHERE check_id = ?1 AND ts < ?2", params![id, raw_cutoff])? as u64;
        }
        if first != i64::MAX {
            m.hours_rolled_up = (current_hour - first).max(0);
        }
    }
    tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('rolled_until', ?1)", [current_hour.to_string()])?;
    let rollup_cutoff = (now_ms - keep_rollups.as_millis() as i64).div_euclid(HOUR_MS);
    m.rollups_deleted = tx.execute("DELETE FROM hours WHERE hour < ?1", [rollup_cutoff])? as u64;
    m.incidents_deleted =
        tx.execute("DELETE FROM incidents WHERE resolved IS NOT NULL AND resolved < ?1", [rollup_cutoff * HOUR_MS])? as u64;
    tx.commit()?;
    Ok(m)
}

#[cfg(test)]
#[test]
fn packing_round_trips() {
    let m = [
        Packed { name_id: 3, n: 120, min: 0.001, avg: 0.0125, max: 1.5, p95: 0.9 },
        Packed { name_id: 65535, n: 1, min: 9.5e8, avg: 9.5e8, max: 9.5e8, p95: 9.5e8 },
    ];
    let blob = pack(&m);
    assert_eq!(blob.len(), 44);
    assert_eq!(unpack(&blob), m);
}
