//! The SQLite schema. Tables keyed by (check, time) are `WITHOUT ROWID` so a range of one
//! check's history is one B-tree walk, and retention deletes by primary-key range, which
//! is why there is no index on time alone.

/// The newest schema this build reads. 2: rollup rows may pack metric-name ids as u32s
/// (`maintain::pack`); the tables are the same as 1's.
pub const VERSION: i64 = 2;

/// What a new store is marked: the oldest schema that describes it, so that an older picket
/// can still open it until it holds something that picket would misread.
pub const CREATED: i64 = 1;

/// What maintenance raises a store to when it first writes a rollup row with a name id
/// beyond u16 (a store that has interned more than 65,535 metric names). An older picket
/// would read that row's ids as u16s and attribute its metrics to the wrong names, so it
/// refuses the store instead.
pub const WIDE_IDS: i64 = 2;

pub const SCHEMA: &str = r#"
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
"#;
