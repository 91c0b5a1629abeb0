//! The store's schema as numbered migrations: one list, [`MIGRATIONS`], covering the history
//! (results, states, incidents, rollups) and the journal (outbox, silences, recovery
//! attempts, the router's memory). [`Store::open`](crate::Store::open) and
//! `Journal::open` both call `run`, which applies what the
//! file lacks, in order, each migration in its own `BEGIN IMMEDIATE` transaction that first
//! re-reads where the file is. Two connections (the store's and the journal's, or two
//! processes) may both call it: the second waits for the first's write lock, then finds
//! nothing left to do. The daemon opens the store first, so the journal only checks.
//!
//! Tables keyed by (check, time) are `WITHOUT ROWID` so a range of one check's history is
//! one B-tree walk, and retention deletes by primary-key range, which is why there is no
//! index on time alone.
//!
//! # Two numbers
//!
//! - **`PRAGMA user_version`** is the number of the last migration applied: which tables and
//!   columns exist. A store beyond [`LATEST`] was migrated by a newer picket and is refused
//!   ([`StoreError::Version`]), untouched.
//! - **The format mark**, the `meta` row `schema`: the oldest picket that reads what the
//!   store holds without misreading it. It predates migrations, and builds from before them
//!   read only it (the last of them refuses a mark above 2, earlier ones above 1), so it is
//!   the one number that reaches every older picket. A new store is marked [`FORMAT_CREATED`]; maintenance raises it to
//!   [`FORMAT_WIDE_IDS`] in the transaction that first packs a rollup row with name ids
//!   wider than u16 (a store with more than 65,535 metric names), which a picket reading u16
//!   ids would attribute to the wrong metrics. A mark beyond [`FORMAT_READS`] is refused
//!   ([`StoreError::Format`]).
//!
//! Wide ids stay a mark rather than becoming a migration: a migration runs when a store is
//! opened, but wide rows appear later, and only in the rare store with that many names, so a
//! migration would lock every store away from older builds for what almost none holds; and
//! builds from before migrations never look at `user_version`. The rule for what comes
//! next: a change to tables is a new migration at the end of the list (never an edit of one
//! already released), and whatever an older picket would misread (a migration, or a write
//! like the wide rows) also raises the mark, in the same transaction.
//!
//! # Stores from before migrations
//!
//! They have `user_version` 0, the mark 1 or 2, and some or all of migration 1's tables (the
//! journal's tables appeared when the journal first opened). Migration 1 is exactly those tables, written
//! `CREATE … IF NOT EXISTS`, so applying it to such a store creates only what is missing,
//! keeps every row and the mark (`INSERT OR IGNORE`), and sets `user_version` to 1: an old
//! store is adopted by the same path that creates a new one. Its mark is checked first, so
//! a store this build would misread is refused before anything is written.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::StoreError;

/// One step of the schema: applied once, in order, in a transaction of its own.
pub struct Migration {
    /// Its place in [`MIGRATIONS`], from 1; `user_version` once it is applied.
    pub number: i64,
    /// What it does, for the log.
    pub what: &'static str,
    pub step: Step,
}

pub enum Step {
    /// Statements run as one batch.
    Sql(&'static str),
    /// A data move that SQL alone says badly.
    Fn(fn(&Transaction<'_>) -> rusqlite::Result<()>),
}

/// Every migration, oldest first. Append only: a released migration is never edited.
pub const MIGRATIONS: &[Migration] =
    &[Migration { number: 1, what: "history and journal tables as picket made them before migrations", step: Step::Sql(V1) }];

/// The newest migration this build knows: a new store's `user_version`.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// The highest format mark this build reads. 2: rollup rows may pack metric-name ids as
/// u32s (`maintain::pack`).
pub const FORMAT_READS: i64 = 2;

/// What a new store is marked (by migration 1): the oldest format that describes it, so an
/// older picket can still open it until it holds something that picket would misread.
pub const FORMAT_CREATED: i64 = 1;

/// What maintenance raises the mark to when it first writes a rollup row with a name id
/// beyond u16. An older picket would read that row's ids as u16s and attribute its metrics
/// to the wrong names, so it refuses the store instead.
pub const FORMAT_WIDE_IDS: i64 = 2;

// This build reads every mark it writes.
const _: () = assert!(FORMAT_CREATED <= FORMAT_READS && FORMAT_WIDE_IDS <= FORMAT_READS);

/// Migration 1: the tables of the last picket before migrations, history and journal,
/// verbatim (so a store it made is adopted as is), and the format mark.
const V1: &str = r#"
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS checks (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

-- Every result. ts in ms since the epoch; metrics a JSON object {name: value}.
CREATE TABLE IF NOT EXISTS results (
    check_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    status INTEGER NOT NULL,
    duration_us INTEGER NOT NULL,
    summary TEXT NOT NULL,
    metrics TEXT,
    diagnostics TEXT,
    failure TEXT,
    PRIMARY KEY (check_id, ts)
) WITHOUT ROWID;

-- One row per check and hour (hours since the epoch): status counts, and per metric
-- count/min/avg/max/p95 packed in `metrics` (see store::maintain::pack: u16 name ids, or
-- u32 ones behind a header byte once there are more than 65,535 names). One row per
-- check-hour rather than per metric-hour: a year of 1,000 checks is 8.8 M rows, not 35 M.
-- The pseudo-metric "duration" is the run time in seconds.
CREATE TABLE IF NOT EXISTS hours (
    check_id INTEGER NOT NULL,
    hour INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    warning INTEGER NOT NULL,
    critical INTEGER NOT NULL,
    unknown INTEGER NOT NULL,
    metrics BLOB NOT NULL,
    PRIMARY KEY (check_id, hour)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS metric_names (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

-- The state machine of each check (JSON of state::CheckState), replaced on every result.
CREATE TABLE IF NOT EXISTS states (
    check_id INTEGER PRIMARY KEY,
    state TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY,
    check_id INTEGER NOT NULL,
    opened INTEGER NOT NULL,
    resolved INTEGER,
    severity TEXT NOT NULL,
    summary TEXT NOT NULL,
    last_summary TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 1,
    inhibited INTEGER NOT NULL,
    resolution TEXT
);
CREATE INDEX IF NOT EXISTS incidents_open ON incidents (resolved, id);

-- Every notification, written before its first delivery attempt. state: pending,
-- delivered, failed (gave up or refused), suppressed (inhibited, silenced, maintenance,
-- cooldown: kept so nothing is lost, never sent).
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    provider TEXT NOT NULL,
    route TEXT NOT NULL,
    check_name TEXT NOT NULL,
    incident INTEGER NOT NULL,
    kind TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER NOT NULL,
    last_error TEXT,
    done_ms INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state, provider, dedup_key, id);

CREATE TABLE IF NOT EXISTS silences (
    id INTEGER PRIMARY KEY,
    pattern TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    until_ms INTEGER NOT NULL,
    reason TEXT NOT NULL,
    by TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS recoveries (
    id INTEGER PRIMARY KEY,
    check_name TEXT NOT NULL,
    incident INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    exit_code INTEGER,
    output TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS recoveries_check ON recoveries (check_name, started_ms);

CREATE TABLE IF NOT EXISTS journal_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '1');
"#;

/// Brings the store at `path` (open as `conn`) up to [`LATEST`], or refuses it.
pub(crate) fn run(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    apply(conn, MIGRATIONS, FORMAT_READS, path).map(drop)
}

/// Applies what `list` has beyond the file's `user_version`; returns how many it applied.
fn apply(conn: &mut Connection, list: &[Migration], reads: i64, path: &Path) -> Result<usize, StoreError> {
    let sql = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
    let latest = list.len() as i64;
    // The usual case, without taking the write lock: nothing to do.
    if readable(conn, latest, reads, path)? == latest {
        return Ok(0);
    }
    let mut applied = 0;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        // Again under the lock: another connection may have migrated meanwhile.
        let at = readable(&tx, latest, reads, path)?;
        let Some(m) = usize::try_from(at).ok().and_then(|i| list.get(i)) else { return Ok(applied) };
        let done = match m.step {
            Step::Sql(batch) => tx.execute_batch(batch),
            Step::Fn(f) => f(&tx),
        };
        done.and_then(|()| tx.pragma_update(None, "user_version", m.number)).map_err(|source| StoreError::Migration {
            path: path.to_path_buf(),
            number: m.number,
            source,
        })?;
        tx.commit().map_err(sql)?;
        tracing::info!(store = %path.display(), migration = m.number, what = m.what, "store migrated");
        applied += 1;
    }
}

/// The file's `user_version`, if this build can read the file at all.
fn readable(conn: &Connection, latest: i64, reads: i64, path: &Path) -> Result<i64, StoreError> {
    let sql = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
    let at: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
    if at > latest {
        return Err(StoreError::Version { path: path.to_path_buf(), found: at, supported: latest });
    }
    match format_mark(conn).map_err(sql)? {
        Some(mark) if mark > reads => Err(StoreError::Format { path: path.to_path_buf(), found: mark, supported: reads }),
        _ => Ok(at),
    }
}

/// The format mark, if the file has one.
fn format_mark(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    let has_meta: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')", [], |r| r.get(0))?;
    if !has_meta {
        return Ok(None);
    }
    let mark = conn.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get::<_, String>(0)).optional()?;
    Ok(mark.and_then(|v| v.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(c: &Connection) -> i64 {
        c.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap()
    }

    fn tables(c: &Connection) -> Vec<String> {
        let mut stmt = c.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    const MEM: &str = ":memory:";

    #[test]
    fn migrations_are_numbered_from_one_in_order() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.number, i as i64 + 1, "migration {:?}", m.what);
        }
        assert_eq!(LATEST, MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_new_file_gets_every_table_the_latest_number_and_the_created_mark() {
        let mut c = Connection::open_in_memory().unwrap();
        assert_eq!(apply(&mut c, MIGRATIONS, FORMAT_READS, Path::new(MEM)).unwrap(), MIGRATIONS.len());
        assert_eq!(version(&c), LATEST);
        assert_eq!(format_mark(&c).unwrap(), Some(FORMAT_CREATED));
        let expected = [
            "checks",
            "hours",
            "incidents",
            "journal_meta",
            "meta",
            "metric_names",
            "outbox",
            "recoveries",
            "results",
            "silences",
            "states",
        ];
        assert_eq!(tables(&c), expected);
        // Again: nothing to do, nothing written.
        assert_eq!(apply(&mut c, MIGRATIONS, FORMAT_READS, Path::new(MEM)).unwrap(), 0);
        assert_eq!(version(&c), LATEST);
    }

    const FIRST: Migration = Migration { number: 1, what: "a", step: Step::Sql("CREATE TABLE a (x TEXT NOT NULL)") };
    const SECOND: Migration = Migration {
        number: 2,
        what: "b",
        step: Step::Sql("CREATE TABLE b (x); INSERT INTO a (x) VALUES ('from 2'); INSERT INTO a VALUES (NULL)"),
    };

    #[test]
    fn each_migration_commits_alone_and_a_failure_rolls_back_only_itself() {
        let mut c = Connection::open_in_memory().unwrap();
        let err = apply(&mut c, &[FIRST, SECOND], FORMAT_READS, Path::new(MEM)).unwrap_err();
        assert!(matches!(err, StoreError::Migration { number: 2, .. }), "{err}");
        assert!(err.to_string().starts_with("store :memory:: migration 2 failed: "), "{err}");
        // 1 stays applied; nothing of 2 is left (its table, its row, its number).
        assert_eq!(version(&c), 1);
        assert_eq!(tables(&c), ["a"]);
        assert_eq!(c.query_row("SELECT COUNT(*) FROM a", [], |r| r.get::<_, i64>(0)).unwrap(), 0);
        // A fixed 2 applies from there.
        let fixed = Migration { number: 2, what: "b", step: Step::Sql("CREATE TABLE b (x)") };
        assert_eq!(apply(&mut c, &[FIRST, fixed], FORMAT_READS, Path::new(MEM)).unwrap(), 1);
        assert_eq!((version(&c), tables(&c)), (2, vec!["a".to_string(), "b".to_string()]));
    }

    #[test]
    fn fn_steps_move_data_in_their_transaction() {
        fn upper(tx: &Transaction<'_>) -> rusqlite::Result<()> {
            let rows: Vec<String> = tx.prepare("SELECT x FROM a")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            for x in rows {
                tx.execute("UPDATE a SET x = ?1 WHERE x = ?2", [x.to_uppercase(), x])?;
            }
            Ok(())
        }
        let mut c = Connection::open_in_memory().unwrap();
        apply(&mut c, &[FIRST], FORMAT_READS, Path::new(MEM)).unwrap();
        c.execute("INSERT INTO a VALUES ('pending')", []).unwrap();
        let move_data = Migration { number: 2, what: "upper", step: Step::Fn(upper) };
        assert_eq!(apply(&mut c, &[FIRST, move_data], FORMAT_READS, Path::new(MEM)).unwrap(), 1);
        assert_eq!(c.query_row("SELECT x FROM a", [], |r| r.get::<_, String>(0)).unwrap(), "PENDING");
    }

    #[test]
    fn a_newer_number_or_mark_is_refused_before_anything_is_written() {
        let mut c = Connection::open_in_memory().unwrap();
        apply(&mut c, &[FIRST], FORMAT_READS, Path::new(MEM)).unwrap();
        // A build that knows only migration 0 sees a newer store.
        let err = apply(&mut c, &[], FORMAT_READS, Path::new(MEM)).unwrap_err();
        assert!(matches!(err, StoreError::Version { found: 1, supported: 0, .. }), "{err}");
        // A file from before migrations with a mark this build does not read: refused, and
        // left at user_version 0 with none of migration 1's tables.
        let mut old = Connection::open_in_memory().unwrap();
        old.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID; INSERT INTO meta VALUES ('schema', '3')",
        )
        .unwrap();
        let err = apply(&mut old, MIGRATIONS, FORMAT_READS, Path::new(MEM)).unwrap_err();
        assert!(matches!(err, StoreError::Format { found: 3, supported: FORMAT_READS, .. }), "{err}");
        assert_eq!((version(&old), tables(&old)), (0, vec!["meta".to_string()]));
    }

    #[test]
    fn two_connections_migrating_at_once_apply_each_migration_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("race.db");
        const LIST: [Migration; 5] = [
            Migration { number: 1, what: "log", step: Step::Sql("CREATE TABLE log (n INTEGER NOT NULL)") },
            Migration { number: 2, what: "2", step: Step::Sql("INSERT INTO log VALUES (2)") },
            Migration { number: 3, what: "3", step: Step::Sql("INSERT INTO log VALUES (3)") },
            Migration { number: 4, what: "4", step: Step::Sql("INSERT INTO log VALUES (4)") },
            Migration { number: 5, what: "5", step: Step::Sql("INSERT INTO log VALUES (5)") },
        ];
        let open = || {
            let c = Connection::open(&path).unwrap();
            c.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
            c.pragma_update(None, "journal_mode", "WAL").unwrap();
            c
        };
        let conns = [open(), open()];
        let start = std::sync::Barrier::new(2);
        let applied: usize = std::thread::scope(|s| {
            let runs: Vec<_> = conns
                .into_iter()
                .map(|mut c| {
                    let (start, path) = (&start, &path);
                    s.spawn(move || {
                        start.wait();
                        apply(&mut c, &LIST, FORMAT_READS, path).unwrap()
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).sum()
        });
        assert_eq!(applied, LIST.len());
        let c = open();
        assert_eq!(version(&c), 5);
        let log: Vec<i64> =
            c.prepare("SELECT n FROM log ORDER BY rowid").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(log, [2, 3, 4, 5]);
    }
}
