//! The writer thread: drains the queue into one transaction per batch.

use std::collections::HashMap;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use rusqlite::{Connection, Transaction, params};

use super::maintain::{self, Maintenance};
use super::status_code;
use picket_core::events::{Event, EventKind};
use picket_core::result::CheckResult;

/// Most messages in one transaction, so a flood still commits regularly.
const MAX_BATCH: usize = 20_000;
/// After the first message of a batch, the writer gathers for this long. Without it,
/// every result would wake the thread (a futex wake and two context switches each);
/// with it, the thread wakes at most 40 times a second. A `kill -9` loses at most this
/// much history.
const GATHER: Duration = Duration::from_millis(25);

pub enum Write {
    Result(ResultRow),
    State { check: String, state: String },
    Event(Box<Event>),
    Forget(String),
    Flush(tokio::sync::oneshot::Sender<()>),
    Maintain { now_ms: i64, keep_results: Duration, keep_rollups: Duration, done: tokio::sync::oneshot::Sender<Maintenance> },
}

pub struct ResultRow {
    check: String,
    ts_ms: i64,
    status: i64,
    duration_us: i64,
    summary: String,
    metrics: Option<String>,
    diagnostics: Option<String>,
    failure: Option<String>,
}

impl ResultRow {
    pub fn from_result(r: &CheckResult, ts_ms: i64) -> ResultRow {
        let metrics = (!r.metrics.is_empty()).then(|| {
            let map: serde_json::Map<String, serde_json::Value> =
                r.metrics.iter().map(|m| (m.name.clone(), serde_json::json!(significant(m.value)))).collect();
            serde_json::Value::Object(map).to_string()
        });
        ResultRow {
            check: r.name.clone(),
            ts_ms,
            status: status_code(r.status),
            duration_us: r.duration.as_micros() as i64,
            summary: r.summary.clone(),
            metrics,
            diagnostics: r.diagnostics.clone(),
            failure: r.failure.as_ref().map(|f| f.kind().to_string()),
        }
    }
}

/// `v` to six significant digits, so `0.00030000000000000003` is stored as `0.0003`: a
/// third of the bytes of a typical result, and more precision than any check measures.
fn significant(v: f64) -> f64 {
    format!("{v:.5e}").parse().unwrap_or(v)
}

struct Ids(HashMap<String, i64>);

impl Ids {
    fn get(&mut self, tx: &Transaction<'_>, name: &str) -> rusqlite::Result<i64> {
        if let Some(id) = self.0.get(name) {
            return Ok(*id);
        }
        tx.execute("INSERT OR IGNORE INTO checks (name) VALUES (?1)", [name])?;
        let id = tx.query_row("SELECT id FROM checks WHERE name = ?1", [name], |r| r.get(0))?;
        self.0.insert(name.to_string(), id);
        Ok(id)
    }
}

pub fn run(mut conn: Connection, rx: Receiver<Write>, path: String) {
    let mut ids = Ids(HashMap::new());
    while let Ok(first) = rx.recv() {
        if !matches!(first, Write::Flush(_)) {
            std::thread::sleep(GATHER);
        }
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let mut flushes = Vec::new();
        let mut maintenance = Vec::new();
        if let Err(e) = write_batch(&mut conn, &mut ids, batch, &mut flushes, &mut maintenance) {
            tracing::error!(store = %path, "writing history failed: {e}");
            // The id cache may hold ids from the rolled-back transaction.
            ids.0.clear();
        }
        for done in flushes {
            let _ = done.send(());
        }
        for (now_ms, keep_results, keep_rollups, done) in maintenance {
            match maintain::run(&mut conn, now_ms, keep_results, keep_rollups) {
                Ok(m) => {
                    let _ = done.send(m);
                }
                Err(e) => tracing::error!(store = %path, "store maintenance failed: {e}"),
            }
        }
    }
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(store = %path, "final checkpoint failed: {e}");
    }
}

type MaintainRequest = (i64, Duration, Duration, tokio::sync::oneshot::Sender<Maintenance>);

fn write_batch(
    conn: &mut Connection,
    ids: &mut Ids,
    batch: Vec<Write>,
    flushes: &mut Vec<tokio::sync::oneshot::Sender<()>>,
    maintenance: &mut Vec<MaintainRequest>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    // Only a check's last state in the batch matters.
    let mut states: HashMap<String, Option<String>> = HashMap::new();
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR REPLACE INTO results (check_id, ts, status, duration_us, summary, metrics, diagnostics, failure)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for w in batch {
            match w {
                Write::Result(r) => {
                    let id = ids.get(&tx, &r.check)?;
                    insert.execute(params![id, r.ts_ms, r.status, r.duration_us, r.summary, r.metrics, r.diagnostics, r.failure])?;
                }
                Write::State { check, state } => {
                    states.insert(check, Some(state));
                }
                Write::Forget(check) => {
                    states.insert(check, None);
                }
                Write::Event(e) => incident(&tx, ids, &e)?,
                Write::Flush(done) => flushes.push(done),
                Write::Maintain { now_ms, keep_results, keep_rollups, done } => {
                    maintenance.push((now_ms, keep_results, keep_rollups, done))
                }
            }
        }
    }
    for (check, state) in states {
        let id = ids.get(&tx, &check)?;
        match state {
            Some(s) => tx.execute("INSERT OR REPLACE INTO states (check_id, state) VALUES (?1, ?2)", params![id, s])?,
            None => tx.execute("DELETE FROM states WHERE check_id = ?1", [id])?,
        };
    }
    tx.commit()
}

#[cfg(test)]
#[test]
fn stored_metrics_keep_six_significant_digits() {
    assert_eq!(significant(0.1 + 0.2), 0.3);
    assert_eq!(significant(1234567.0), 1234570.0);
    assert_eq!(significant(0.000123456789), 0.000123457);
    assert_eq!(significant(0.0), 0.0);
}

fn incident(tx: &Transaction<'_>, ids: &mut Ids, e: &Event) -> rusqlite::Result<()> {
    let Some(id) = e.incident else { return Ok(()) };
    let at = e.at.timestamp_millis();
    match &e.kind {
        EventKind::IncidentOpened => {
            let check = ids.get(tx, &e.check)?;
            tx.execute(
                "INSERT OR REPLACE INTO incidents (id, check_id, opened, severity, summary, last_summary, inhibited, failures)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
                params![id as i64, check, at, e.severity.as_str(), e.summary, e.inhibited, e.failures],
            )?;
        }
        EventKind::SeverityChanged { .. } | EventKind::StillFailing { .. } => {
            tx.execute(
                "UPDATE incidents SET severity = ?2, last_summary = ?3, inhibited = ?4, failures = MAX(failures, ?5) WHERE id = ?1",
                params![id as i64, e.severity.as_str(), e.summary, e.inhibited, e.failures],
            )?;
        }
        EventKind::Resolved { .. } | EventKind::Removed => {
            let how = if e.kind == EventKind::Removed { "check removed from the configuration" } else { "recovered" };
            tx.execute(
                "UPDATE incidents SET resolved = ?2, resolution = ?3, last_summary = ?4 WHERE id = ?1 AND resolved IS NULL",
                params![id as i64, at, how, e.summary],
            )?;
        }
        // Flapping opens an incident when none was open: it is on record like any other.
        EventKind::FlappingStarted { .. } => {
            let check = ids.get(tx, &e.check)?;
            tx.execute(
                "INSERT OR IGNORE INTO incidents (id, check_id, opened, severity, summary, last_summary, inhibited, failures)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
                params![id as i64, check, at, e.severity.as_str(), e.summary, e.inhibited, e.failures],
            )?;
        }
        EventKind::Passing { .. } => {
            tx.execute("UPDATE incidents SET last_summary = ?2 WHERE id = ?1", params![id as i64, e.summary])?;
        }
        EventKind::FlappingStopped => {}
    }
    Ok(())
}
