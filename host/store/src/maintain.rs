//! Rollups and retention. Complete hours of raw results become one row per check and hour:
//! status counts, and per metric the count, min, avg, max and p95 packed into a blob; then
//! raw results older than `keep_results` and rollups older than `keep_rollups` are deleted.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::migrate;

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
    pub name_id: u32,
    pub n: u32,
    pub min: f32,
    pub avg: f32,
    pub max: f32,
    pub p95: f32,
}

/// Everything after the name id: n, then min, avg, max and p95.
const BODY_LEN: usize = 4 + 4 * 4;
/// A record of the first format: a u16 name id.
const NARROW_LEN: usize = 2 + BODY_LEN;
/// A record of the wide format: a u32 name id.
const WIDE_LEN: usize = 4 + BODY_LEN;
/// The first byte of a wide blob. A blob of the first format has no header and is a whole
/// number of 22-byte records, so its length is even; a wide blob is this byte and 24-byte
/// records, so its length is odd. The two can never be mistaken for each other.
const WIDE: u8 = 2;

/// Little-endian. f32 keeps 7 significant digits: more than any check measures, at half
/// the bytes of SQLite's REAL. While every name id fits in a u16 (a store with at most
/// 65,535 metric names, which is nearly all of them) a blob is the first format: 22 bytes
/// per metric, no header, readable by any picket. Otherwise it is [`WIDE`] and then 24
/// bytes per metric with a u32 id (see `migrate::FORMAT_WIDE_IDS`).
pub fn pack(metrics: &[Packed]) -> Vec<u8> {
    let narrow = metrics.iter().all(|m| u16::try_from(m.name_id).is_ok());
    let mut out = Vec::with_capacity(1 + metrics.len() * WIDE_LEN);
    if !narrow {
        out.push(WIDE);
    }
    for m in metrics {
        // Little-endian, so a u16 is the first two bytes of the same u32.
        let id = m.name_id.to_le_bytes();
        out.extend_from_slice(if narrow { &id[..2] } else { &id });
        out.extend_from_slice(&m.n.to_le_bytes());
        for v in [m.min, m.avg, m.max, m.p95] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Whether [`pack`] writes `metrics` in the wide format.
fn is_wide(metrics: &[Packed]) -> bool {
    metrics.iter().any(|m| u16::try_from(m.name_id).is_err())
}

/// Reads either format. A blob that is neither (never written by any picket) reads as no
/// metrics rather than as metrics under guessed names.
pub fn unpack(blob: &[u8]) -> Vec<Packed> {
    let body = |name_id: u32, c: &[u8]| {
        let f = |i: usize| f32::from_le_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
        Packed { name_id, n: u32::from_le_bytes([c[0], c[1], c[2], c[3]]), min: f(4), avg: f(8), max: f(12), p95: f(16) }
    };
    match blob.split_first() {
        Some((&WIDE, rest)) if rest.len().is_multiple_of(WIDE_LEN) => {
            rest.chunks_exact(WIDE_LEN).map(|c| body(u32::from_le_bytes([c[0], c[1], c[2], c[3]]), &c[4..])).collect()
        }
        _ if blob.len().is_multiple_of(NARROW_LEN) => {
            blob.chunks_exact(NARROW_LEN).map(|c| body(u16::from_le_bytes([c[0], c[1]]).into(), &c[2..])).collect()
        }
        _ => {
            tracing::warn!(bytes = blob.len(), header = blob.first().copied(), "unreadable rollup row skipped");
            Vec::new()
        }
    }
}

/// Metric names by id, as interned in `metric_names`. An id beyond u32 (four billion
/// names) is never packed, so it is left out rather than truncated onto another name.
pub fn metric_names(conn: &rusqlite::Connection) -> rusqlite::Result<HashMap<u32, String>> {
    let mut stmt = conn.prepare_cached("SELECT id, name FROM metric_names")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut names = HashMap::new();
    for row in rows {
        let (id, name) = row?;
        if let Ok(id) = u32::try_from(id) {
            names.insert(id, name);
        }
    }
    Ok(names)
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
        let mut name_ids: HashMap<String, u32> = metric_names(&tx)?.into_iter().map(|(id, n)| (n, id)).collect();
        // None for a name whose id does not fit a u32: such a metric is not rolled up at all,
        // because a truncated id would be another metric's.
        let mut intern = |tx: &rusqlite::Transaction<'_>, name: &str| -> rusqlite::Result<Option<u32>> {
            if let Some(id) = name_ids.get(name) {
                return Ok(Some(*id));
            }
            tx.prepare_cached("INSERT OR IGNORE INTO metric_names (name) VALUES (?1)")?.execute([name])?;
            let id: i64 = tx.prepare_cached("SELECT id FROM metric_names WHERE name = ?1")?.query_row([name], |r| r.get(0))?;
            let Ok(id) = u32::try_from(id) else {
                tracing::error!(metric = name, id, "metric name id beyond u32; this metric is left out of rollups");
                return Ok(None);
            };
            name_ids.insert(name.to_string(), id);
            Ok(Some(id))
        };
        let mut wide_marked = false;
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
                    let Some(name_id) = intern(&tx, &metric)? else { continue };
                    values.sort_by(f64::total_cmp);
                    let n = values.len();
                    let avg = values.iter().sum::<f64>() / n as f64;
                    // Nearest-rank 95th percentile.
                    let p95 = values[((0.95 * n as f64).ceil() as usize).clamp(1, n) - 1];
                    packed.push(Packed {
                        name_id,
                        n: n as u32,
                        min: values[0] as f32,
                        avg: avg as f32,
                        max: values[n - 1] as f32,
                        p95: p95 as f32,
                    });
                }
                if is_wide(&packed) && !wide_marked {
                    // An older picket would read this row's ids as u16s: raise the store's
                    // format mark so it refuses the store instead.
                    tx.execute(
                        "UPDATE meta SET value = ?1 WHERE key = 'schema' AND CAST(value AS INTEGER) < ?2",
                        params![migrate::FORMAT_WIDE_IDS.to_string(), migrate::FORMAT_WIDE_IDS],
                    )?;
                    wide_marked = true;
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
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips() {
        let m = [
            Packed { name_id: 3, n: 120, min: 0.001, avg: 0.0125, max: 1.5, p95: 0.9 },
            Packed { name_id: 65535, n: 1, min: 9.5e8, avg: 9.5e8, max: 9.5e8, p95: 9.5e8 },
        ];
        // Every id fits a u16: the first format, unchanged.
        let blob = pack(&m);
        assert_eq!(blob.len(), 44);
        assert_eq!(unpack(&blob), m);
    }

    #[test]
    fn ids_beyond_u16_pack_wide_and_round_trip() {
        let m = [
            Packed { name_id: 3, n: 120, min: 0.001, avg: 0.0125, max: 1.5, p95: 0.9 },
            Packed { name_id: 65_536, n: 7, min: 1.0, avg: 2.0, max: 3.0, p95: 3.0 },
            Packed { name_id: u32::MAX, n: 1, min: -1.0, avg: -1.0, max: -1.0, p95: -1.0 },
        ];
        let blob = pack(&m);
        assert_eq!(blob.len(), 1 + 3 * 24);
        assert_eq!(blob[0], WIDE);
        assert_eq!(unpack(&blob), m);
    }

    #[test]
    fn first_format_rows_decode() {
        // Written byte by byte as picket wrote them before wide ids: u16 id 0xBEEF (48879),
        // n 5, then min 1.0, avg 2.5, max 4.0, p95 4.0, all little-endian; no header.
        let mut row = vec![0xEF, 0xBE, 5, 0, 0, 0];
        for v in [1.0f32, 2.5, 4.0, 4.0] {
            row.extend_from_slice(&v.to_le_bytes());
        }
        let blob = [row.clone(), row].concat();
        let p = Packed { name_id: 48_879, n: 5, min: 1.0, avg: 2.5, max: 4.0, p95: 4.0 };
        assert_eq!(unpack(&blob), [p, p]);
    }

    #[test]
    fn unknown_blobs_read_as_nothing() {
        // Odd length without the wide header, and a length that is neither format's.
        assert_eq!(unpack(&[7; 25]), []);
        assert_eq!(unpack(&[0; 23]), []);
        assert_eq!(unpack(&[]), []);
    }
}
