//! Migrations through the store's public API: a new store, a store from before migrations
//! (made here from the old SQL, `fixtures/before-migrations.sql`), stores from a newer
//! picket, and opening twice.

use std::path::Path;

use picket_core::result::Status;
use picket_core::state::CheckState;
use picket_store::journal::{Journal, OutboxState, RecoveryOutcome};
use picket_store::migrate::{FORMAT_CREATED, FORMAT_READS, FORMAT_WIDE_IDS, LATEST};
use picket_store::{Store, StoreError};
use rusqlite::{Connection, params};

/// The tables and the schema mark as picket made them before migrations.
const BEFORE_MIGRATIONS: &str = include_str!("fixtures/before-migrations.sql");

/// 2024-03-01T12:00:00.250Z
const T: i64 = 1_709_294_400_250;
const HOUR: i64 = 3_600_000;

fn user_version(path: &Path) -> i64 {
    Connection::open(path).unwrap().pragma_query_value(None, "user_version", |r| r.get(0)).unwrap()
}

fn set_user_version(path: &Path, v: i64) {
    Connection::open(path).unwrap().pragma_update(None, "user_version", v).unwrap();
}

fn mark(path: &Path) -> String {
    Connection::open(path).unwrap().query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0)).unwrap()
}

/// Every table, index and its SQL, and every row of every table, as text.
fn everything(path: &Path) -> Vec<String> {
    let c = Connection::open(path).unwrap();
    let mut out: Vec<String> = c
        .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok(format!("{}|{}|{:?}", r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for t in tables {
        let mut stmt = c.prepare(&format!("SELECT * FROM {t}")).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..n).map(|i| r.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}"))).collect::<Result<Vec<_>, _>>()
            })
            .unwrap();
        out.extend(rows.map(|r| format!("{t}: {}", r.unwrap().join(", "))));
    }
    out.sort();
    out
}

/// A store as the last picket before migrations left it: its tables, and rows of each kind
/// as it wrote them (times in ms, outbox states and recovery outcomes as names).
fn old_store(path: &Path) {
    let c = Connection::open(path).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.execute_batch(BEFORE_MIGRATIONS).unwrap();
    let state = serde_json::to_string(&CheckState::default()).unwrap();
    // Hour 0 rolled up as picket packs it: a u16 name id, a u32 count, min, avg, max and p95 as f32s.
    let mut blob = Vec::new();
    blob.extend_from_slice(&2u16.to_le_bytes());
    blob.extend_from_slice(&4u32.to_le_bytes());
    for v in [1.0f32, 2.0, 3.0, 3.0] {
        blob.extend_from_slice(&v.to_le_bytes());
    }
    c.execute_batch(&format!(
        "INSERT INTO checks (id, name) VALUES (1, 'api'), (2, 'db');
         INSERT INTO results VALUES (1, {T}, 2, 1500, 'HTTP 503', '{{\"latency\":0.25}}', 'body: oops', 'http');
         INSERT INTO metric_names (id, name) VALUES (1, 'duration'), (2, 'latency');
         INSERT INTO incidents VALUES (7, 1, {T}, NULL, 'critical', 'HTTP 503', 'HTTP 503', 3, 0, NULL);
         INSERT INTO incidents VALUES (6, 2, {T0}, {T1}, 'warning', 'slow', 'fine', 1, 1, 'recovered');
         INSERT INTO meta (key, value) VALUES ('rolled_until', '{H}');
         INSERT INTO outbox VALUES (1, {T}, 'hook', 'critical', 'api', 7, 'trigger', 'picket/api/7', '{{}}', 'delivered', NULL, 1, {T}, NULL, {T1});
         INSERT INTO outbox VALUES (2, {T}, 'mail', 'critical', 'api', 7, 'trigger', 'picket/api/7', '{{}}', 'failed', NULL, 5, {T}, 'HTTP 500', {T1});
         INSERT INTO outbox VALUES (3, {T}, 'page', 'critical', 'api', 7, 'trigger', 'picket/api/7', '{{}}', 'suppressed', 'silenced until 13:00', 0, {T}, NULL, NULL);
         INSERT INTO outbox VALUES (4, {T1}, 'hook', 'critical', 'api', 7, 'reminder', 'picket/api/7', '{{\"x\":1}}', 'pending', NULL, 2, {T1}, 'timed out', NULL);
         INSERT INTO silences VALUES (1, 'api*', {T}, {TS}, 'deploy', 'alice');
         INSERT INTO recoveries VALUES (1, 'api', 7, 1, {T}, 120, 'run restart', 'ok', 0, 'restarted');
         INSERT INTO recoveries VALUES (2, 'api', 7, 2, {T}, 130, 'run restart', 'failed', 3, 'no');
         INSERT INTO recoveries VALUES (3, 'api', 7, 3, {T}, 5000, 'run restart', 'timeout', NULL, '(killed after 5s)');
         INSERT INTO recoveries VALUES (4, 'api', 7, 4, {T}, 0, 'run restart', 'error', NULL, 'cannot start');
         INSERT INTO recoveries VALUES (5, 'api', 7, 4, {T1}, 0, 'run restart', 'gave-up', NULL, 'budget spent');
         INSERT INTO journal_meta VALUES ('router', '{{\"tracked\":{{}}}}');",
        T0 = T - 2 * HOUR,
        T1 = T + 60_000,
        TS = T + 365 * 24 * HOUR,
        H = T / HOUR,
    ))
    .unwrap();
    c.execute("INSERT INTO states VALUES (1, ?1)", [state]).unwrap();
    c.execute("INSERT INTO hours VALUES (1, ?1, 4, 0, 0, 0, ?2)", params![T / HOUR - 1, blob]).unwrap();
}

#[test]
fn a_new_store_gets_the_latest_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let store = Store::open(&path).unwrap();
    let journal = Journal::open(&path).unwrap();
    assert_eq!(user_version(&path), LATEST);
    assert_eq!(mark(&path), FORMAT_CREATED.to_string());
    journal.add_silence("api", T + HOUR, "deploy", "alice", T).unwrap();
    assert_eq!(journal.silences(T).unwrap().len(), 1);
    store.close();
    // The journal alone migrates a new file the same way.
    let path = dir.path().join("journal-first.db");
    Journal::open(&path).unwrap();
    assert_eq!(user_version(&path), LATEST);
    drop(Store::open(&path).unwrap());
}

#[test]
fn a_store_from_before_migrations_is_adopted_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    old_store(&path);
    assert_eq!(user_version(&path), 0);
    let rows_before: Vec<String> = everything(&path).into_iter().filter(|l| !l.starts_with("table|") && !l.starts_with("index|")).collect();

    let store = Store::open(&path).unwrap();
    let journal = Journal::open(&path).unwrap();
    assert_eq!(user_version(&path), LATEST);
    assert_eq!(mark(&path), "1");

    // History.
    let restored = store.restore().unwrap();
    assert_eq!(restored.states["api"], CheckState::default());
    assert_eq!(restored.next_incident, 8);
    let results = store.results("api", 0, 10).unwrap();
    assert_eq!(results.len(), 1);
    let r = &results[0];
    assert_eq!((r.at.timestamp_millis(), r.status, r.duration_ms, r.summary.as_str()), (T, Status::Critical, 1.5, "HTTP 503"));
    assert_eq!(
        (r.metrics["latency"].as_f64(), r.diagnostics.as_deref(), r.failure.as_deref()),
        (Some(0.25), Some("body: oops"), Some("http"))
    );
    let incidents = store.incidents(false, 10).unwrap();
    let got: Vec<(u64, &str, Option<i64>, &str)> =
        incidents.iter().map(|i| (i.id, i.check.as_str(), i.resolved.map(|t| t.timestamp_millis()), i.severity.as_str())).collect();
    assert_eq!(got, [(7, "api", None, "critical"), (6, "db", Some(T + 60_000), "warning")]);
    let rollups = store.rollups("api", 0).unwrap();
    assert_eq!(rollups.len(), 1);
    assert_eq!((rollups[0].metric.as_str(), rollups[0].n, rollups[0].max), ("latency", 4, 3.0));

    // Journal: typed states and outcomes, times in ms, the same JSON as before.
    let notes = journal.notifications(None, 10).unwrap();
    let got: Vec<(i64, OutboxState, i64, i64, Option<i64>)> =
        notes.iter().map(|n| (n.id, n.state, n.created_ms, n.next_ms, n.done_ms)).collect();
    assert_eq!(
        got,
        [
            (4, OutboxState::Pending, T + 60_000, T + 60_000, None),
            (3, OutboxState::Suppressed, T, T, None),
            (2, OutboxState::Failed, T, T, Some(T + 60_000)),
            (1, OutboxState::Delivered, T, T, Some(T + 60_000)),
        ]
    );
    assert_eq!(
        serde_json::to_value(&notes[2]).unwrap(),
        serde_json::json!({
            "id": 2, "created": "2024-03-01T12:00:00.250Z", "provider": "mail", "route": "critical", "check": "api", "incident": 7,
            "kind": "trigger", "dedup_key": "picket/api/7", "state": "failed", "attempts": 5,
            "next_attempt": "2024-03-01T12:00:00.250Z", "last_error": "HTTP 500", "done": "2024-03-01T12:01:00.250Z"
        })
    );
    assert_eq!(notes[1].reason.as_deref(), Some("silenced until 13:00"));
    assert_eq!(journal.notifications(Some(OutboxState::Failed), 10).unwrap().len(), 1);
    let counts = journal.counts().unwrap();
    assert_eq!((counts.pending, counts.delivered, counts.failed, counts.suppressed), (1, 1, 1, 1));
    let due = journal.due(T + HOUR, 10).unwrap();
    assert_eq!((due.len(), due[0].id, due[0].body.as_str()), (1, 4, r#"{"x":1}"#));
    assert_eq!(journal.next_due_ms().unwrap(), Some(T + 60_000));
    let recoveries = journal.recoveries(Some("api"), 10).unwrap();
    let outcomes: Vec<(RecoveryOutcome, i64)> = recoveries.iter().map(|r| (r.outcome, r.started_ms)).collect();
    assert_eq!(
        outcomes,
        [
            (RecoveryOutcome::GaveUp, T + 60_000),
            (RecoveryOutcome::Error, T),
            (RecoveryOutcome::Timeout, T),
            (RecoveryOutcome::Failed, T),
            (RecoveryOutcome::Ok, T)
        ]
    );
    assert_eq!(
        serde_json::to_value(&recoveries[3]).unwrap(),
        serde_json::json!({
            "check": "api", "incident": 7, "attempt": 2, "started": "2024-03-01T12:00:00.250Z", "duration_ms": 130,
            "action": "run restart", "outcome": "failed", "exit_code": 3, "output": "no"
        })
    );
    let silences = journal.silences(T).unwrap();
    assert_eq!(silences.len(), 1);
    assert_eq!(
        (silences[0].check.as_str(), silences[0].created.as_str(), silences[0].until_ms),
        ("api*", "2024-03-01T12:00:00.250Z", T + 365 * 24 * HOUR)
    );
    assert_eq!(journal.get_meta("router").unwrap().as_deref(), Some(r#"{"tracked":{}}"#));
    store.close();
    drop(journal);

    // Nothing was rewritten: every row is as the old picket left it.
    let rows_after: Vec<String> = everything(&path).into_iter().filter(|l| !l.starts_with("table|") && !l.starts_with("index|")).collect();
    assert_eq!(rows_after, rows_before);
}

#[test]
fn an_old_store_with_only_history_and_wide_rollups_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history-only.db");
    old_store(&path);
    {
        // The journal never opened on it, and maintenance had marked wide ids.
        let c = Connection::open(&path).unwrap();
        c.execute_batch("DROP TABLE outbox; DROP TABLE silences; DROP TABLE recoveries; DROP TABLE journal_meta").unwrap();
        c.execute("UPDATE meta SET value = ?1 WHERE key = 'schema'", [FORMAT_WIDE_IDS.to_string()]).unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(user_version(&path), LATEST);
    assert_eq!(mark(&path), FORMAT_WIDE_IDS.to_string());
    assert_eq!(store.restore().unwrap().next_incident, 8);
    let journal = Journal::open(&path).unwrap();
    assert!(journal.notifications(None, 10).unwrap().is_empty());
    journal.record_recovery(&recovery()).unwrap();
    assert_eq!(journal.recoveries(None, 10).unwrap(), [recovery()]);
}

fn recovery() -> picket_store::journal::RecoveryRow {
    picket_store::journal::RecoveryRow {
        check: "api".into(),
        incident: 1,
        attempt: 1,
        started_ms: T,
        duration_ms: 3,
        action: "run true".into(),
        outcome: RecoveryOutcome::Ok,
        exit_code: Some(0),
        output: String::new(),
    }
}

#[test]
fn a_store_from_a_newer_picket_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(Store::open(&path).unwrap());
    set_user_version(&path, LATEST + 1);
    let before = everything(&path);
    match Store::open(&path) {
        Err(e @ StoreError::Version { found, supported, .. }) => {
            assert_eq!((found, supported), (LATEST + 1, LATEST));
            let shown = e.to_string();
            assert!(shown.contains(&format!("schema {}", LATEST + 1)) && shown.contains(&format!("up to {LATEST}")), "{shown}");
        }
        other => panic!("expected a version refusal, got {:?}", other.map(|_| ())),
    }
    assert!(matches!(Journal::open(&path), Err(StoreError::Version { found, .. }) if found == LATEST + 1));
    assert_eq!(everything(&path), before);
    assert_eq!(user_version(&path), LATEST + 1);
}

#[test]
fn a_store_marked_with_a_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("format.db");
    drop(Store::open(&path).unwrap());
    Connection::open(&path).unwrap().execute("UPDATE meta SET value = ?1 WHERE key = 'schema'", [(FORMAT_READS + 1).to_string()]).unwrap();
    match Store::open(&path) {
        Err(StoreError::Format { found, supported, .. }) => assert_eq!((found, supported), (FORMAT_READS + 1, FORMAT_READS)),
        other => panic!("expected a format refusal, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn opening_twice_migrates_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twice.db");
    old_store(&path);
    {
        let store = Store::open(&path).unwrap();
        drop(Journal::open(&path).unwrap());
        store.close();
    }
    let once = everything(&path);
    assert_eq!(user_version(&path), LATEST);
    {
        let store = Store::open(&path).unwrap();
        drop(Journal::open(&path).unwrap());
        store.close();
    }
    assert_eq!(everything(&path), once);
}
