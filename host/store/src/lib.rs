//! The store: picket's memory on disk. History in embedded SQLite (WAL): every result, each check's state, incidents, and
//! hourly rollups for long ranges. No server to run.
//!
//! One writer thread owns the write connection and commits whatever has queued as one
//! transaction, so 10,000 results a second cost a few commits, not 10,000 fsyncs; checks
//! never wait for the disk. Readers (the API, restore) use their own connection, which WAL
//! lets run alongside the writer. A `kill -9` loses at most the batch being written.
//!
//! The schema of the history and the journal is one numbered list of migrations
//! ([`migrate`]), applied when either opens the file; a store from a newer picket is refused.

pub mod journal;
mod maintain;
pub mod migrate;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

pub use maintain::Maintenance;
use writer::Write;

use picket_core::events::Event;
use picket_core::result::{CheckResult, Status};
use picket_core::state::CheckState;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("store {path}: cannot create it or its directory: {source}")]
    Dir { path: PathBuf, source: std::io::Error },
    /// Its `user_version` is beyond [`migrate::LATEST`]: a newer picket migrated it.
    #[error("store {path}: migrated by a newer picket (schema {found}, this one knows up to {supported})")]
    Version { path: PathBuf, found: i64, supported: i64 },
    /// Its format mark is beyond [`migrate::FORMAT_READS`]: it holds what this picket would misread.
    #[error("store {path}: written by a newer picket (format {found}, this one reads up to {supported})")]
    Format { path: PathBuf, found: i64, supported: i64 },
    /// A migration failed; it was rolled back, and the store stays at the one before.
    #[error("store {path}: migration {number} failed: {source}")]
    Migration { path: PathBuf, number: i64, source: rusqlite::Error },
    #[error("the store's writer has stopped")]
    Closed,
    #[error("store {path} is in use by another picket process (lock file {path}.lock)")]
    InUse { path: PathBuf },
}

/// The history store. Cheap to share (`Arc`); writes are queued, reads are synchronous
/// (call them from `spawn_blocking`).
pub struct Store {
    path: PathBuf,
    /// An exclusive `flock` on `<store>.lock`: two daemons writing one history would
    /// interleave incidents and states.
    _lock: std::fs::File,
    tx: Mutex<Option<std::sync::mpsc::Sender<Write>>>,
    reader: Mutex<Connection>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn open_conn(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // WAL with synchronous=NORMAL: a crashed process loses nothing committed; only a power
    // cut can lose the last commits.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A result as stored and returned by the API.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StoredResult {
    pub at: chrono::DateTime<chrono::Utc>,
    pub status: Status,
    pub duration_ms: f64,
    pub summary: String,
    pub metrics: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// One metric over one hour.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rollup {
    pub hour: chrono::DateTime<chrono::Utc>,
    pub metric: String,
    pub n: i64,
    pub min: f64,
    pub avg: f64,
    pub max: f64,
    pub p95: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Incident {
    pub id: u64,
    pub check: String,
    pub opened: chrono::DateTime<chrono::Utc>,
    pub resolved: Option<chrono::DateTime<chrono::Utc>>,
    pub severity: String,
    pub summary: String,
    pub last_summary: String,
    pub failures: i64,
    pub inhibited: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
}

/// What a restart picks up.
#[derive(Debug, Default)]
pub struct Restored {
    pub states: HashMap<String, CheckState>,
    /// The next incident id to hand out.
    pub next_incident: u64,
}

fn ms_to_time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Store {
    /// Opens (creating) the store at `path`, and starts its writer thread.
    pub fn open(path: &Path) -> Result<Arc<Store>, StoreError> {
        let sql = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir { path: path.to_path_buf(), source })?;
        }
        let lock_path = PathBuf::from(format!("{}.lock", path.display()));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| StoreError::Dir { path: lock_path.clone(), source })?;
        if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            return Err(StoreError::InUse { path: path.to_path_buf() });
        }
        let mut writer_conn = open_conn(path).map_err(sql)?;
        migrate::run(&mut writer_conn, path)?;
        let reader = open_conn(path).map_err(sql)?;
        let (tx, rx) = std::sync::mpsc::channel();
        let shown = path.display().to_string();
        let handle = std::thread::Builder::new()
            .name("picket-store".into())
            .spawn(move || writer::run(writer_conn, rx, shown))
            .map_err(|e| StoreError::Dir { path: path.to_path_buf(), source: e })?;
        Ok(Arc::new(Store {
            path: path.to_path_buf(),
            _lock: lock,
            tx: Mutex::new(Some(tx)),
            reader: Mutex::new(reader),
            writer: Mutex::new(Some(handle)),
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn send(&self, w: Write) {
        if let Some(tx) = self.tx.lock().expect("store lock").as_ref() {
            // A send fails only after close(); late results during shutdown are dropped.
            let _ = tx.send(w);
        }
    }

    /// Queues one result.
    pub fn record(&self, r: &CheckResult, at_ms: i64) {
        self.send(Write::Result(writer::ResultRow::from_result(r, at_ms)));
    }

    /// Queues a check's new state (only the last one per batch is written).
    pub fn save_state(&self, check: &str, state: &CheckState) {
        match serde_json::to_string(state) {
            Ok(json) => self.send(Write::State { check: check.to_string(), state: json }),
            Err(e) => tracing::error!(check, "cannot serialize state: {e}"),
        }
    }

    /// Queues the incident bookkeeping for one event.
    pub fn record_event(&self, e: &Event) {
        self.send(Write::Event(Box::new(e.clone())));
    }

    /// Forgets a check's state (it left the configuration); its history stays.
    pub fn forget_state(&self, check: &str) {
        self.send(Write::Forget(check.to_string()));
    }

    /// Waits until everything queued so far is committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Write::Flush(tx));
        rx.await.map_err(|_| StoreError::Closed)
    }

    /// Rolls up complete hours and applies retention; returns what it did.
    pub async fn maintain(&self, now_ms: i64, keep_results: Duration, keep_rollups: Duration) -> Result<Maintenance, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Write::Maintain { now_ms, keep_results, keep_rollups, done: tx });
        rx.await.map_err(|_| StoreError::Closed)
    }

    /// Stops the writer after it has committed everything queued, and checkpoints the WAL.
    pub fn close(&self) {
        drop(self.tx.lock().expect("store lock").take());
        if let Some(h) = self.writer.lock().expect("store lock").take() {
            let _ = h.join();
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let conn = self.reader.lock().expect("store lock");
        f(&conn).map_err(|source| StoreError::Sqlite { path: self.path.clone(), source })
    }

    /// Every check's last state and the next incident id.
    pub fn restore(&self) -> Result<Restored, StoreError> {
        self.read(|c| {
            let mut states = HashMap::new();
            let mut stmt = c.prepare("SELECT checks.name, states.state FROM states JOIN checks ON checks.id = states.check_id")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            for row in rows {
                let (name, json) = row?;
                match serde_json::from_str::<CheckState>(&json) {
                    Ok(s) => {
                        states.insert(name, s);
                    }
                    Err(e) => tracing::warn!(check = %name, "stored state unreadable, starting fresh: {e}"),
                }
            }
            let max: Option<i64> = c.query_row("SELECT MAX(id) FROM incidents", [], |r| r.get(0))?;
            Ok(Restored { states, next_incident: max.unwrap_or(0) as u64 + 1 })
        })
    }

    /// A check's results since `since_ms`, newest first, at most `limit`.
    pub fn results(&self, check: &str, since_ms: i64, limit: usize) -> Result<Vec<StoredResult>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT ts, status, duration_us, summary, metrics, diagnostics, failure FROM results
                 WHERE check_id = (SELECT id FROM checks WHERE name = ?1) AND ts >= ?2 ORDER BY ts DESC LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![check, since_ms, limit as i64], |r| {
                let metrics: Option<String> = r.get(4)?;
                Ok(StoredResult {
                    at: ms_to_time(r.get(0)?),
                    status: status_from_code(r.get(1)?),
                    duration_ms: r.get::<_, i64>(2)? as f64 / 1000.0,
                    summary: r.get(3)?,
                    metrics: metrics.and_then(|m| serde_json::from_str(&m).ok()).unwrap_or_default(),
                    diagnostics: r.get(5)?,
                    failure: r.get(6)?,
                })
            })?;
            rows.collect()
        })
    }

    /// A check's hourly rollups since `since_ms`, oldest first, one entry per metric.
    pub fn rollups(&self, check: &str, since_ms: i64) -> Result<Vec<Rollup>, StoreError> {
        self.read(|c| {
            let names = maintain::metric_names(c)?;
            let mut stmt = c.prepare_cached(
                "SELECT hour, metrics FROM hours
                 WHERE check_id = (SELECT id FROM checks WHERE name = ?1) AND hour >= ?2 ORDER BY hour",
            )?;
            let rows =
                stmt.query_map(params![check, since_ms.div_euclid(3_600_000)], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (hour, blob) = row?;
                let mut metrics: Vec<Rollup> = maintain::unpack(&blob)
                    .into_iter()
                    .map(|p| Rollup {
                        hour: ms_to_time(hour * 3_600_000),
                        metric: names.get(&p.name_id).cloned().unwrap_or_else(|| format!("#{}", p.name_id)),
                        n: p.n as i64,
                        min: p.min as f64,
                        avg: p.avg as f64,
                        max: p.max as f64,
                        p95: p.p95 as f64,
                    })
                    .collect();
                metrics.sort_by(|a, b| a.metric.cmp(&b.metric));
                out.extend(metrics);
            }
            Ok(out)
        })
    }

    /// Incidents, newest first: only open ones, or all.
    pub fn incidents(&self, open_only: bool, limit: usize) -> Result<Vec<Incident>, StoreError> {
        self.read(|c| {
            let sql = format!(
                "SELECT incidents.id, checks.name, opened, resolved, severity, summary, last_summary, failures, inhibited, resolution
                 FROM incidents JOIN checks ON checks.id = incidents.check_id {} ORDER BY incidents.id DESC LIMIT ?1",
                if open_only { "WHERE resolved IS NULL" } else { "" }
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map([limit as i64], |r| {
                Ok(Incident {
                    id: r.get::<_, i64>(0)? as u64,
                    check: r.get(1)?,
                    opened: ms_to_time(r.get(2)?),
                    resolved: r.get::<_, Option<i64>>(3)?.map(ms_to_time),
                    severity: r.get(4)?,
                    summary: r.get(5)?,
                    last_summary: r.get(6)?,
                    failures: r.get(7)?,
                    inhibited: r.get(8)?,
                    resolution: r.get(9)?,
                })
            })?;
            rows.collect()
        })
    }

    /// One metric of one check since `since_ms` as (ms, value), oldest first: hourly
    /// averages where raw results have been retired, raw values after.
    pub fn series(&self, check: &str, metric: &str, since_ms: i64) -> Result<Vec<(i64, f64)>, StoreError> {
        self.read(|c| {
            let Some(id): Option<i64> = c.query_row("SELECT id FROM checks WHERE name = ?1", [check], |r| r.get(0)).optional()? else {
                return Ok(Vec::new());
            };
            let first_raw: Option<i64> =
                c.query_row("SELECT MIN(ts) FROM results WHERE check_id = ?1 AND ts >= ?2", params![id, since_ms], |r| r.get(0))?;
            let mut out = Vec::new();
            let raw_from = first_raw.unwrap_or(i64::MAX);
            let name_id = maintain::metric_names(c)?.into_iter().find(|(_, n)| n == metric).map(|(id, _)| id);
            if let Some(name_id) = name_id {
                let mut stmt =
                    c.prepare_cached("SELECT hour, metrics FROM hours WHERE check_id = ?1 AND hour >= ?2 AND hour < ?3 ORDER BY hour")?;
                let rows = stmt.query_map(params![id, since_ms.div_euclid(3_600_000), raw_from.div_euclid(3_600_000)], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
                })?;
                for row in rows {
                    let (hour, blob) = row?;
                    if let Some(p) = maintain::unpack(&blob).into_iter().find(|p| p.name_id == name_id) {
                        out.push((hour * 3_600_000 + 1_800_000, p.avg as f64));
                    }
                }
            }
            let path = format!("$.\"{}\"", metric.replace('"', ""));
            let mut stmt = c.prepare_cached(
                "SELECT ts, json_extract(metrics, ?3) FROM results WHERE check_id = ?1 AND ts >= ?2 AND metrics IS NOT NULL ORDER BY ts",
            )?;
            let rows = stmt.query_map(params![id, since_ms, path], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<f64>>(1)?)))?;
            for row in rows {
                if let (ts, Some(v)) = row? {
                    out.push((ts, v));
                }
            }
            Ok(out)
        })
    }

    /// Bytes on disk: the database plus its WAL.
    pub fn size_bytes(&self) -> u64 {
        let wal = PathBuf::from(format!("{}-wal", self.path.display()));
        [self.path.as_path(), wal.as_path()].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

pub(crate) fn status_code(s: Status) -> i64 {
    s.nagios_code() as i64
}

pub(crate) fn status_from_code(c: i64) -> Status {
    match c {
        0 => Status::Ok,
        1 => Status::Warning,
        2 => Status::Critical,
        _ => Status::Unknown,
    }
}

pub fn ms_to_rfc3339(ms: i64) -> String {
    ms_to_time(ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use picket_core::events::EventKind;
    use picket_core::result::Metric;

    const HOUR: i64 = 3_600_000;

    fn result(name: &str, status: Status, value: f64) -> CheckResult {
        CheckResult {
            name: name.into(),
            plugin: "disk".into(),
            target: "/".into(),
            status,
            summary: format!("used {value}%"),
            duration: Duration::from_millis(2),
            metrics: vec![Metric { name: "used".into(), value, unit: "%".into() }],
            diagnostics: None,
            failure: None,
            attempts: 1,
        }
    }

    #[tokio::test]
    async fn rollups_summarise_complete_hours_and_retention_deletes_raw() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("h.db")).unwrap();
        let base = 480_000 * HOUR; // an hour boundary in 2024
        // Hours 0 and 1: values 1..=20 (hour 0) and 101..=120 (hour 1); hour 2 in progress.
        for h in 0..3 {
            for i in 1..=20 {
                let v = (h * 100 + i) as f64;
                let status = if i == 20 { Status::Critical } else { Status::Ok };
                store.record(&result("disk", status, v), base + h * HOUR + i * 60_000);
            }
        }
        let m = store.maintain(base + 2 * HOUR + 30 * 60_000, Duration::from_secs(3600), Duration::from_secs(86400 * 30)).await.unwrap();
        assert_eq!(m.hours_rolled_up, 2);
        // Raw results older than an hour before "now" (01:30) are gone: hours 0 and 1.
        assert_eq!(m.results_deleted, 40);
        let rollups = store.rollups("disk", base).unwrap();
        let used: Vec<&Rollup> = rollups.iter().filter(|r| r.metric == "used").collect();
        assert_eq!(used.len(), 2);
        assert_eq!((used[0].n, used[0].min, used[0].max), (20, 1.0, 20.0));
        assert!((used[0].avg - 10.5).abs() < 1e-9);
        assert_eq!(used[0].p95, 19.0);
        assert_eq!(used[1].min, 101.0);
        assert!(rollups.iter().any(|r| r.metric == "duration"));
        let counts: (i64, i64) = store
            .read(|c| c.query_row("SELECT ok, critical FROM hours WHERE hour = ?1", [base / HOUR], |r| Ok((r.get(0)?, r.get(1)?))))
            .unwrap();
        assert_eq!(counts, (19, 1));
        // A second run does not roll the same hours up again.
        let again =
            store.maintain(base + 2 * HOUR + 40 * 60_000, Duration::from_secs(3600), Duration::from_secs(86400 * 30)).await.unwrap();
        assert_eq!(again.rollup_rows, 0);
        // The series for a forecast: hourly averages where raw is gone, raw after.
        let series = store.series("disk", "used", base).unwrap();
        assert_eq!(series.first().unwrap(), &(base + HOUR / 2, 10.5));
        assert_eq!(series[1], (base + HOUR + HOUR / 2, 110.5));
        assert_eq!(series.last().unwrap().1, 220.0);
        assert_eq!(series.len(), 2 + 20);
        assert!(series.windows(2).all(|w| w[0].0 < w[1].0));
    }

    fn schema_mark(store: &Store) -> String {
        store.read(|c| c.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0))).unwrap()
    }

    #[tokio::test]
    async fn rollups_keep_metric_names_with_ids_beyond_u16() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("m.db")).unwrap();
        let base = 480_000 * HOUR;
        // One result with 65,536 metrics, each valued at its own number: with "duration",
        // maintenance interns 65,537 names in its one transaction ("duration" is id 1,
        // m00000 id 2, ..., m65535 id 65,537), so the last ones no longer fit a u16.
        let metrics = (0..65_536).map(|i| Metric { name: format!("m{i:05}"), value: i as f64, unit: String::new() }).collect();
        store.record(&CheckResult { metrics, ..result("many", Status::Ok, 0.0) }, base + 60_000);
        store.flush().await.unwrap();
        assert_eq!(schema_mark(&store), "1");
        store.maintain(base + HOUR + 60_000, Duration::from_secs(60), Duration::from_secs(86400 * 30)).await.unwrap();
        let id: i64 = store.read(|c| c.query_row("SELECT id FROM metric_names WHERE name = 'm65535'", [], |r| r.get(0))).unwrap();
        assert!(id > 65_535, "m65535 has id {id}");
        let rollups = store.rollups("many", base).unwrap();
        assert_eq!(rollups.len(), 65_537);
        assert!(rollups.iter().any(|r| r.metric == "duration"));
        // Every metric reads back under its own name: a wrapped id would put m65535's
        // value (id 65,537, as u16 1) under "duration".
        for r in rollups.iter().filter(|r| r.metric != "duration") {
            let own: f64 = r.metric[1..].parse().unwrap();
            assert_eq!((r.n, r.min, r.avg, r.max, r.p95), (1, own, own, own, own), "metric {}", r.metric);
        }
        assert_eq!(rollups.iter().find(|r| r.metric == "m65535").unwrap().max, 65_535.0);
        // The series a forecast reads finds it by the same id.
        assert_eq!(store.series("many", "m65535", base).unwrap(), [(base + HOUR / 2, 65_535.0)]);
        // An older picket would misread the wide row, so the store now says it is newer.
        assert_eq!(schema_mark(&store), "2");
    }

    #[tokio::test]
    async fn first_format_rollup_rows_still_read_beside_wide_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("o.db")).unwrap();
        let base = 480_000 * HOUR;
        // Hour 0 as picket wrote it before wide ids: per metric a u16 id, a u32 count and
        // min, avg, max, p95 as f32, little-endian, no header.
        let mut blob = Vec::new();
        for (id, v) in [(1u16, 0.5f32), (2, 42.0)] {
            blob.extend_from_slice(&id.to_le_bytes());
            blob.extend_from_slice(&3u32.to_le_bytes());
            for _ in 0..4 {
                blob.extend_from_slice(&v.to_le_bytes());
            }
        }
        store
            .read(|c| {
                c.execute("INSERT INTO checks (id, name) VALUES (1, 'old')", [])?;
                c.execute("INSERT INTO metric_names (id, name) VALUES (1, 'duration'), (2, 'used'), (70000, 'late')", [])?;
                c.execute("INSERT INTO hours VALUES (1, ?1, 3, 0, 0, 0, ?2)", params![base / HOUR, blob])
            })
            .unwrap();
        // Hour 1 is rolled up now, with "late" (id 70,000): a wide row.
        let late = CheckResult {
            metrics: vec![Metric { name: "late".into(), value: 7.0, unit: String::new() }],
            ..result("old", Status::Ok, 0.0)
        };
        store.record(&late, base + HOUR + 60_000);
        store.maintain(base + 2 * HOUR + 60_000, Duration::from_secs(86400), Duration::from_secs(86400 * 30)).await.unwrap();
        let wide: Vec<u8> =
            store.read(|c| c.query_row("SELECT metrics FROM hours WHERE hour = ?1", [base / HOUR + 1], |r| r.get(0))).unwrap();
        assert_eq!((wide.len(), wide[0]), (1 + 2 * 24, 2));
        let rollups = store.rollups("old", base).unwrap();
        let got: Vec<(i64, &str, i64, f64)> =
            rollups.iter().map(|r| ((r.hour.timestamp_millis() - base) / HOUR, r.metric.as_str(), r.n, r.max)).collect();
        assert_eq!(got[..3], [(0, "duration", 3, 0.5), (0, "used", 3, 42.0), (1, "duration", 1, f64::from(0.002f32))]);
        assert_eq!(got[3], (1, "late", 1, 7.0));
        assert_eq!(store.series("old", "used", base).unwrap(), [(base + HOUR / 2, 42.0)]);
    }

    #[tokio::test]
    async fn state_and_incidents_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut state = CheckState::default();
        {
            let store = Store::open(&path).unwrap();
            let obs = |status, at| picket_core::state::Observation { check: "api", status, summary: "down", at, parents_down: false };
            let policy = picket_core::policy::AlertPolicy { after: 1, ..Default::default() };
            let mut id = 6;
            let mut next = || {
                id += 1;
                id
            };
            let t = chrono::Utc::now();
            for e in state.observe(obs(Status::Critical, t), &policy, &mut next) {
                store.record_event(&e);
            }
            for e in state.observe(obs(Status::Warning, t + chrono::Duration::seconds(30)), &policy, &mut next) {
                assert_eq!(e.kind, EventKind::SeverityChanged { from: Status::Critical });
                store.record_event(&e);
            }
            store.save_state("api", &state);
            store.flush().await.unwrap();
            // A second store on the same file is refused while this one is open.
            assert!(matches!(Store::open(&path), Err(StoreError::InUse { .. })));
        }
        let store = Store::open(&path).unwrap();
        let restored = store.restore().unwrap();
        assert_eq!(restored.states["api"], state);
        assert_eq!(restored.next_incident, 8);
        let open = store.incidents(true, 10).unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!((open[0].id, open[0].severity.as_str(), open[0].failures), (7, "warning", 2));
    }
}
