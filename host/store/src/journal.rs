//! The journal: the few records that must never be lost or reordered — the notification
//! outbox, silences, recovery attempts and the router's timers. Unlike results (queued,
//! batched, `synchronous=NORMAL`), every journal write is its own transaction on its own
//! connection with `synchronous=FULL`, committed before the caller goes on: a notification
//! is on disk before anyone tries to send it. The volume is small (a few rows per
//! incident), so the fsync per write costs nothing that matters.
//!
//! Times are milliseconds since the epoch, in the rows and in the row types (RFC 3339 only
//! in their JSON); outbox states and recovery outcomes are enums, [`OutboxState`] and
//! [`RecoveryOutcome`], stored by name. The tables are migrations in [`migrate`].
//!
//! Calls are synchronous; async callers use `spawn_blocking`.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

pub use picket_core::notify::quiet::Silence;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{StoreError, migrate, ms_to_rfc3339};

/// A name an [`OutboxState`] or a [`RecoveryOutcome`] does not have (in a row, or in an API query).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}")]
pub struct UnknownName {
    pub what: &'static str,
    pub name: String,
}

/// An enum stored in a TEXT column under one name per variant: the names are listed once,
/// in the invocation, and used for the column (`ToSql`, `FromSql`), JSON (`Serialize`)
/// and parsing (`FromStr`). The column keeps names rather than codes: the words the API
/// shows, readable with `sqlite3`, and what every older picket wrote and reads.
macro_rules! column_enum {
    ($(#[$doc:meta])* $name:ident ($what:literal) { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownName { what: $what, name: s.to_string() }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
                v.as_str()?.parse().map_err(|e| FromSqlError::Other(Box::new(e)))
            }
        }
    };
}

column_enum! {
    /// Where a notification is in the outbox.
    OutboxState ("outbox state") {
        /// Waiting for its (next) delivery attempt.
        Pending => "pending",
        /// The receiver said yes.
        Delivered => "delivered",
        /// Gave up: not retryable, refused, or retried for too long.
        Failed => "failed",
        /// Inhibited, silenced, in maintenance or in cooldown: kept so nothing is lost, never sent.
        Suppressed => "suppressed",
    }
}

column_enum! {
    /// How a recovery attempt ended.
    RecoveryOutcome ("recovery outcome") {
        /// The action succeeded.
        Ok => "ok",
        /// A non-zero exit or an HTTP error.
        Failed => "failed",
        Timeout => "timeout",
        /// It could not start.
        Error => "error",
        /// The budget was spent; nothing ran.
        GaveUp => "gave-up",
    }
}

/// Milliseconds since the epoch as RFC 3339, for the JSON of rows that keep `i64`s.
fn rfc3339<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&ms_to_rfc3339(*ms))
}

fn rfc3339_opt<S: serde::Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => rfc3339(ms, s),
        None => s.serialize_none(),
    }
}

/// A notification waiting in (or gone through) the outbox.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    /// Milliseconds since the epoch, like every time in the journal (RFC 3339 in JSON).
    #[serde(rename = "created", serialize_with = "rfc3339")]
    pub created_ms: i64,
    pub provider: String,
    pub route: String,
    pub check: String,
    pub incident: u64,
    pub kind: String,
    pub dedup_key: String,
    pub state: OutboxState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub attempts: u32,
    #[serde(rename = "next_attempt", serialize_with = "rfc3339")]
    pub next_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(rename = "done", skip_serializing_if = "Option::is_none", serialize_with = "rfc3339_opt")]
    pub done_ms: Option<i64>,
    /// The notification as JSON (what providers render from).
    #[serde(skip)]
    pub body: String,
}

/// One row to add to the outbox.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub provider: String,
    pub route: String,
    pub check: String,
    pub incident: u64,
    pub kind: String,
    pub dedup_key: String,
    pub body: String,
    /// `Some(reason)`: kept as suppressed, never sent.
    pub suppressed: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecoveryRow {
    pub check: String,
    pub incident: u64,
    pub attempt: u32,
    #[serde(rename = "started", serialize_with = "rfc3339")]
    pub started_ms: i64,
    pub duration_ms: i64,
    pub action: String,
    pub outcome: RecoveryOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    pub output: String,
}

/// Outbox counts by state, for /metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboxCounts {
    pub pending: u64,
    pub failed: u64,
    pub delivered: u64,
    pub suppressed: u64,
}

/// One delivery attempt's outcome, recorded by [`Journal::record_attempts`].
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The outbox row.
    pub id: i64,
    /// Attempts made so far, this one included.
    pub attempts: u32,
    pub outcome: AttemptOutcome,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// The receiver said yes: the row is `delivered`.
    Delivered,
    /// Not this time: try again at `next_ms`.
    Retry { error: String, next_ms: i64 },
    /// Not retryable, or retried for too long: the row is `failed`.
    Failed { error: String },
}

pub struct Journal {
    conn: Mutex<Connection>,
    /// The outbox's rows by state, kept as they change (every change goes through this
    /// type, with `conn` held), so `/metrics` and the API read them without a query.
    counts: Mutex<OutboxCounts>,
}

/// Counts the outbox's rows by state (at open, and after a prune).
fn count_rows(conn: &Connection) -> rusqlite::Result<OutboxCounts> {
    let mut stmt = conn.prepare_cached("SELECT state, COUNT(*) FROM outbox GROUP BY state")?;
    let mut c = OutboxCounts::default();
    for row in stmt.query_map([], |r| Ok((r.get::<_, OutboxState>(0)?, r.get::<_, i64>(1)?)))? {
        let (state, n) = row?;
        *c.of(state) = n as u64;
    }
    Ok(c)
}

impl OutboxCounts {
    fn of(&mut self, state: OutboxState) -> &mut u64 {
        match state {
            OutboxState::Pending => &mut self.pending,
            OutboxState::Failed => &mut self.failed,
            OutboxState::Delivered => &mut self.delivered,
            OutboxState::Suppressed => &mut self.suppressed,
        }
    }
}

fn sql_err(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite { path: path.to_path_buf(), source }
}

impl Journal {
    /// Opens the journal inside the store at `path` (the caller holds the store's lock).
    /// The store's migrations apply here too (see [`migrate`]): normally the store has
    /// applied them already and this only checks.
    pub fn open(path: &Path) -> Result<Journal, StoreError> {
        let mut conn = Connection::open(path).map_err(sql_err(path))?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(sql_err(path))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql_err(path))?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql_err(path))?;
        migrate::run(&mut conn, path)?;
        let counts = count_rows(&conn).map_err(sql_err(path))?;
        Ok(Journal { conn: Mutex::new(conn), counts: Mutex::new(counts) })
    }

    /// A journal that lives as long as the process (`picket run --no-store`, tests).
    pub fn memory() -> Journal {
        let mut conn = Connection::open_in_memory().expect("in-memory sqlite");
        migrate::run(&mut conn, Path::new(":memory:")).expect("journal schema");
        Journal { conn: Mutex::new(conn), counts: Mutex::new(OutboxCounts::default()) }
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, OutboxCounts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds notifications in one transaction, with a meta value (the router's memory) if
    /// given; returns how many are pending delivery.
    pub fn enqueue(&self, rows: &[NewNotification], now_ms: i64, meta: Option<(&str, &str)>) -> rusqlite::Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut pending = 0;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO outbox (created_ms, provider, route, check_name, incident, kind, dedup_key, body, state, reason, next_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?1)",
            )?;
            for r in rows {
                let state = if r.suppressed.is_some() { OutboxState::Suppressed } else { OutboxState::Pending };
                pending += r.suppressed.is_none() as usize;
                stmt.execute(params![
                    now_ms,
                    r.provider,
                    r.route,
                    r.check,
                    r.incident as i64,
                    r.kind,
                    r.dedup_key,
                    r.body,
                    state,
                    r.suppressed
                ])?;
            }
            if let Some((k, v)) = meta {
                tx.execute(
                    "INSERT INTO journal_meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    params![k, v],
                )?;
            }
        }
        tx.commit()?;
        let mut c = self.tally();
        c.pending += pending as u64;
        c.suppressed += (rows.len() - pending) as u64;
        Ok(pending)
    }

    /// Pending rows due by `now_ms`, oldest first, at most one per (provider, dedup key):
    /// a notification waits for the earlier ones of its incident, so a receiver never sees
    /// "resolved" before "triggered".
    pub fn due(&self, now_ms: i64, limit: usize) -> rusqlite::Result<Vec<OutboxRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT o.id FROM outbox o
             WHERE o.state = ?3 AND o.next_ms <= ?1
               AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.state = ?3 AND p.provider = o.provider
                               AND p.dedup_key = o.dedup_key AND p.id < o.id)
             ORDER BY o.id LIMIT ?2",
        )?;
        let ids: Vec<i64> = stmt.query_map(params![now_ms, limit as i64, OutboxState::Pending], |r| r.get(0))?.collect::<Result<_, _>>()?;
        drop(stmt);
        ids.into_iter().map(|id| row_by_id(&conn, id)).collect()
    }

    /// When the next pending row is due, if any.
    pub fn next_due_ms(&self) -> rusqlite::Result<Option<i64>> {
        self.conn().query_row("SELECT MIN(next_ms) FROM outbox WHERE state = ?1", [OutboxState::Pending], |r| r.get(0))
    }

    /// Records several attempts' outcomes in one transaction.
    pub fn record_attempts(&self, outcomes: &[Attempt], now_ms: i64) -> rusqlite::Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let (mut delivered, mut failed) = (0, 0);
        // Only a pending row changes state (and is counted as moving).
        for Attempt { id, attempts, outcome } in outcomes {
            match outcome {
                AttemptOutcome::Delivered => {
                    delivered += tx.execute(
                        "UPDATE outbox SET state = ?4, attempts = ?2, done_ms = ?3, last_error = NULL WHERE id = ?1 AND state = ?5",
                        params![id, attempts, now_ms, OutboxState::Delivered, OutboxState::Pending],
                    )? as u64
                }
                AttemptOutcome::Retry { error: e, next_ms: next } => {
                    tx.execute(
                        "UPDATE outbox SET attempts = ?2, last_error = ?3, next_ms = ?4 WHERE id = ?1 AND state = ?5",
                        params![id, attempts, e, next, OutboxState::Pending],
                    )?;
                }
                AttemptOutcome::Failed { error: e } => {
                    failed += tx.execute(
                        "UPDATE outbox SET state = ?5, attempts = ?2, last_error = ?3, done_ms = ?4 WHERE id = ?1 AND state = ?6",
                        params![id, attempts, e, now_ms, OutboxState::Failed, OutboxState::Pending],
                    )? as u64
                }
            };
        }
        tx.commit()?;
        let mut c = self.tally();
        c.pending = c.pending.saturating_sub(delivered + failed);
        c.delivered += delivered;
        c.failed += failed;
        Ok(())
    }

    /// Notifications, newest first, optionally of one state.
    pub fn notifications(&self, state: Option<OutboxState>, limit: usize) -> rusqlite::Result<Vec<OutboxRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT id FROM outbox WHERE (?1 IS NULL OR state = ?1) ORDER BY id DESC LIMIT ?2")?;
        let ids: Vec<i64> = stmt.query_map(params![state, limit as i64], |r| r.get(0))?.collect::<Result<_, _>>()?;
        drop(stmt);
        ids.into_iter().map(|id| row_by_id(&conn, id)).collect()
    }

    /// The outbox's rows by state: kept as rows change, no query.
    pub fn counts(&self) -> rusqlite::Result<OutboxCounts> {
        Ok(self.tally().clone())
    }

    /// Forgets finished notifications and recovery attempts older than `before_ms`.
    pub fn prune(&self, before_ms: i64) -> rusqlite::Result<usize> {
        let conn = self.conn();
        let n = conn.execute("DELETE FROM outbox WHERE state <> ?2 AND created_ms < ?1", params![before_ms, OutboxState::Pending])?;
        if n > 0 {
            *self.tally() = count_rows(&conn)?;
        }
        let m = conn.execute("DELETE FROM recoveries WHERE started_ms < ?1", [before_ms])?;
        conn.execute("DELETE FROM silences WHERE until_ms < ?1", [before_ms])?;
        Ok(n + m)
    }

    pub fn add_silence(&self, pattern: &str, until_ms: i64, reason: &str, by: &str, now_ms: i64) -> rusqlite::Result<Silence> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO silences (pattern, created_ms, until_ms, reason, by) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![pattern, now_ms, until_ms, reason, by],
        )?;
        let id = conn.last_insert_rowid();
        Ok(silence_of(id, pattern.into(), now_ms, until_ms, reason.into(), by.into()))
    }

    /// Ends a silence now; returns whether it existed.
    pub fn end_silence(&self, id: i64, now_ms: i64) -> rusqlite::Result<bool> {
        Ok(self.conn().execute("UPDATE silences SET until_ms = MIN(until_ms, ?2) WHERE id = ?1", params![id, now_ms])? > 0)
    }

    /// Silences still in force at `now_ms`.
    pub fn silences(&self, now_ms: i64) -> rusqlite::Result<Vec<Silence>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT id, pattern, created_ms, until_ms, reason, by FROM silences WHERE until_ms > ?1 ORDER BY id")?;
        stmt.query_map([now_ms], |r| Ok(silence_of(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?.collect()
    }

    pub fn record_recovery(&self, r: &RecoveryRow) -> rusqlite::Result<()> {
        self.conn().execute(
            "INSERT INTO recoveries (check_name, incident, attempt, started_ms, duration_ms, action, outcome, exit_code, output)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![r.check, r.incident as i64, r.attempt, r.started_ms, r.duration_ms, r.action, r.outcome, r.exit_code, r.output],
        )?;
        Ok(())
    }

    /// Recovery attempts, newest first, of one check or all.
    pub fn recoveries(&self, check: Option<&str>, limit: usize) -> rusqlite::Result<Vec<RecoveryRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT check_name, incident, attempt, started_ms, duration_ms, action, outcome, exit_code, output
             FROM recoveries WHERE (?1 IS NULL OR check_name = ?1) ORDER BY id DESC LIMIT ?2",
        )?;
        stmt.query_map(params![check, limit as i64], |r| {
            Ok(RecoveryRow {
                check: r.get(0)?,
                incident: r.get::<_, i64>(1)? as u64,
                attempt: r.get(2)?,
                started_ms: r.get(3)?,
                duration_ms: r.get(4)?,
                action: r.get(5)?,
                outcome: r.get(6)?,
                exit_code: r.get(7)?,
                output: r.get(8)?,
            })
        })?
        .collect()
    }

    /// Small named blobs (the router's timers).
    pub fn get_meta(&self, key: &str) -> rusqlite::Result<Option<String>> {
        self.conn().query_row("SELECT value FROM journal_meta WHERE key = ?1", [key], |r| r.get(0)).optional()
    }

    pub fn set_meta(&self, key: &str, value: &str) -> rusqlite::Result<()> {
        self.conn().execute(
            "INSERT INTO journal_meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }
}

fn silence_of(id: i64, check: String, created_ms: i64, until_ms: i64, reason: String, by: String) -> Silence {
    Silence { id, check, created: ms_to_rfc3339(created_ms), until: ms_to_rfc3339(until_ms), reason, by, until_ms }
}

fn row_by_id(conn: &Connection, id: i64) -> rusqlite::Result<OutboxRow> {
    conn.query_row(
        "SELECT id, created_ms, provider, route, check_name, incident, kind, dedup_key, state, reason, attempts, next_ms, last_error, done_ms, body
         FROM outbox WHERE id = ?1",
        [id],
        |r| {
            Ok(OutboxRow {
                id: r.get(0)?,
                created_ms: r.get(1)?,
                provider: r.get(2)?,
                route: r.get(3)?,
                check: r.get(4)?,
                incident: r.get::<_, i64>(5)? as u64,
                kind: r.get(6)?,
                dedup_key: r.get(7)?,
                state: r.get(8)?,
                reason: r.get(9)?,
                attempts: r.get(10)?,
                next_ms: r.get(11)?,
                last_error: r.get(12)?,
                done_ms: r.get(13)?,
                body: r.get(14)?,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(provider: &str, key: &str, kind: &str) -> NewNotification {
        NewNotification {
            provider: provider.into(),
            route: "critical".into(),
            check: "c".into(),
            incident: 1,
            kind: kind.into(),
            dedup_key: key.into(),
            body: "{}".into(),
            suppressed: None,
        }
    }

    /// The counts `/metrics` reads are kept, not queried: after every kind of change they
    /// equal a fresh count, and a reopened journal starts from the rows on disk.
    #[test]
    fn kept_counts_match_the_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let j = Journal::open(&path).unwrap();
        let fresh = |j: &Journal| count_rows(&j.conn()).unwrap();
        let mut held = note("a", "k9", "trigger");
        held.suppressed = Some("inhibited".into());
        j.enqueue(&[note("a", "k1", "trigger"), note("a", "k2", "trigger"), note("b", "k3", "trigger"), held], 0, None).unwrap();
        assert_eq!(j.counts().unwrap(), fresh(&j));
        assert_eq!(j.counts().unwrap(), OutboxCounts { pending: 3, failed: 0, delivered: 0, suppressed: 1 });
        let outcomes = [
            Attempt { id: 1, attempts: 1, outcome: AttemptOutcome::Delivered },
            Attempt { id: 2, attempts: 1, outcome: AttemptOutcome::Retry { error: "refused".into(), next_ms: 10 } },
            Attempt { id: 3, attempts: 9, outcome: AttemptOutcome::Failed { error: "400".into() } },
        ];
        j.record_attempts(&outcomes, 5).unwrap();
        assert_eq!(j.counts().unwrap(), fresh(&j));
        // An outcome for a row that is no longer pending moves nothing.
        j.record_attempts(&[Attempt { id: 1, attempts: 2, outcome: AttemptOutcome::Failed { error: "late".into() } }], 6).unwrap();
        assert_eq!(j.counts().unwrap(), OutboxCounts { pending: 1, failed: 1, delivered: 1, suppressed: 1 });
        j.prune(1).unwrap();
        assert_eq!(j.counts().unwrap(), fresh(&j));
        assert_eq!(j.counts().unwrap(), OutboxCounts { pending: 1, failed: 0, delivered: 0, suppressed: 0 });
        drop(j);
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.counts().unwrap(), OutboxCounts { pending: 1, failed: 0, delivered: 0, suppressed: 0 });
    }

    #[test]
    fn due_keeps_each_incidents_order_per_provider() {
        let j = Journal::memory();
        j.enqueue(
            &[note("a", "k1", "trigger"), note("b", "k1", "trigger"), note("a", "k1", "resolved"), note("a", "k2", "trigger")],
            0,
            None,
        )
        .unwrap();
        let due: Vec<(String, String, String)> = j.due(0, 10).unwrap().into_iter().map(|r| (r.provider, r.dedup_key, r.kind)).collect();
        // k1's resolve to `a` waits for its trigger; other providers and incidents don't.
        assert_eq!(
            due,
            vec![
                ("a".into(), "k1".into(), "trigger".into()),
                ("b".into(), "k1".into(), "trigger".into()),
                ("a".into(), "k2".into(), "trigger".into())
            ]
        );
        // A retry scheduled later still blocks the resolve behind it.
        j.record_attempts(&[Attempt { id: 1, attempts: 1, outcome: AttemptOutcome::Retry { error: "refused".into(), next_ms: 5_000 } }], 0)
            .unwrap();
        assert!(j.due(1_000, 10).unwrap().iter().all(|r| r.id != 3));
        j.record_attempts(&[Attempt { id: 1, attempts: 2, outcome: AttemptOutcome::Delivered }], 6_000).unwrap();
        assert!(j.due(6_000, 10).unwrap().iter().any(|r| r.id == 3));
        assert_eq!(j.counts().unwrap(), OutboxCounts { pending: 3, failed: 0, delivered: 1, suppressed: 0 });
    }

    #[test]
    fn suppressed_rows_are_kept_but_never_due() {
        let j = Journal::memory();
        let mut n = note("a", "k", "trigger");
        n.suppressed = Some("inhibited by redis".into());
        assert_eq!(j.enqueue(&[n], 0, None).unwrap(), 0);
        assert!(j.due(10, 10).unwrap().is_empty());
        let all = j.notifications(None, 10).unwrap();
        assert_eq!(all[0].state, OutboxState::Suppressed);
        assert_eq!(all[0].reason.as_deref(), Some("inhibited by redis"));
    }

    #[test]
    fn silences_end() {
        let j = Journal::memory();
        let s = j.add_silence("app-*", 10_000, "deploy", "alice", 0).unwrap();
        assert_eq!(j.silences(5_000).unwrap().len(), 1);
        assert!(j.end_silence(s.id, 6_000).unwrap());
        assert!(j.silences(6_000).unwrap().is_empty());
    }

    #[test]
    fn states_and_outcomes_keep_their_names_in_rows_and_json() {
        let names: Vec<&str> = OutboxState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["pending", "delivered", "failed", "suppressed"]);
        let names: Vec<&str> = RecoveryOutcome::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["ok", "failed", "timeout", "error", "gave-up"]);
        for s in OutboxState::ALL {
            assert_eq!(s.as_str().parse::<OutboxState>(), Ok(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for o in RecoveryOutcome::ALL {
            assert_eq!(o.as_str().parse::<RecoveryOutcome>(), Ok(*o));
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        assert_eq!("sent".parse::<OutboxState>().unwrap_err().to_string(), r#"unknown outbox state "sent""#);
        // A name no picket writes reads as an error, not as a guess.
        let j = Journal::memory();
        j.enqueue(&[note("a", "k", "trigger")], 0, None).unwrap();
        j.conn().execute("UPDATE outbox SET state = 'sent'", []).unwrap();
        let err = j.notifications(None, 10).unwrap_err().to_string();
        assert!(err.contains(r#"unknown outbox state "sent""#), "{err}");
    }

    #[test]
    fn rows_keep_milliseconds_and_show_the_same_json_as_before() {
        let j = Journal::memory();
        // 2024-03-01T12:00:00.250Z
        let t = 1_709_294_400_250;
        j.enqueue(&[note("hook", "k", "trigger"), note("hook", "k", "resolved")], t, None).unwrap();
        j.record_attempts(&[Attempt { id: 1, attempts: 1, outcome: AttemptOutcome::Delivered }], t + 1_000).unwrap();
        let rows = j.notifications(None, 10).unwrap();
        assert_eq!((rows[1].created_ms, rows[1].next_ms, rows[1].done_ms, rows[1].state), (t, t, Some(t + 1_000), OutboxState::Delivered));
        assert_eq!(
            serde_json::to_value(&rows[1]).unwrap(),
            serde_json::json!({
                "id": 1, "created": "2024-03-01T12:00:00.250Z", "provider": "hook", "route": "critical", "check": "c",
                "incident": 1, "kind": "trigger", "dedup_key": "k", "state": "delivered", "attempts": 1,
                "next_attempt": "2024-03-01T12:00:00.250Z", "done": "2024-03-01T12:00:01.250Z"
            })
        );
        assert_eq!(serde_json::to_value(&rows[0]).unwrap()["state"], "pending");
        assert!(serde_json::to_value(&rows[0]).unwrap().get("done").is_none());
        let r = RecoveryRow {
            check: "web".into(),
            incident: 3,
            attempt: 2,
            started_ms: t,
            duration_ms: 15,
            action: "run restart".into(),
            outcome: RecoveryOutcome::GaveUp,
            exit_code: None,
            output: "spent".into(),
        };
        j.record_recovery(&r).unwrap();
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({
                "check": "web", "incident": 3, "attempt": 2, "started": "2024-03-01T12:00:00.250Z", "duration_ms": 15,
                "action": "run restart", "outcome": "gave-up", "output": "spent"
            })
        );
        assert_eq!(j.recoveries(Some("web"), 10).unwrap(), [r]);
    }
}
