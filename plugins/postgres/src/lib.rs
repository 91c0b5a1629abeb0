//! The built-in `postgres` check: the PostgreSQL v3 wire protocol over the host's `tcp`
//! capability (TLS through the host), authentication by trust, cleartext, md5 or
//! SCRAM-SHA-256, then one query for size, connections and long-running sessions.
//!
//! ```toml
//! [[check]]
//! name = "app-db"
//! plugin = "postgres"
//! target = "postgres://app@localhost:5432/app?sslmode=prefer"
//! password = { env = "APP_DB_PASSWORD" }
//! thresholds = { db_size = { warn = "800MB", crit = "950MB" }, connections_used = { warn = "80%", crit = "95%" } }
//! ```
//!
//! A `query` param runs one read-only statement that returns one number (`check_pgsql -q`):
//! it goes through the extended protocol (a single statement, no `;` chaining) in a
//! session set to read-only transactions.

mod auth;
mod wire;

use std::io::{BufReader, Read, Write};

use picket_sdk::net::{TcpStream, connect_or_report, io_report};
use picket_sdk::time::{Stopwatch, human_secs};
use picket_sdk::{Config, Info, ParamKind, Plugin, Report, Shape, export_plugin, info};
use serde::Deserialize;
use wire::{PgError, cstr, read_message, write_message};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Params {
    password: Option<String>,
    sslmode: Option<String>,
    query: Option<String>,
}

struct Postgres;

/// The sslmodes `run` understands (libpq's names).
const SSLMODES: &[&str] = &["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

impl Plugin for Postgres {
    fn describe() -> Info {
        info("postgres", "PostgreSQL size, connections and long-running sessions over the wire protocol")
            .url_target_with_user(&[("postgres", Some(5432)), ("postgresql", Some(5432))], "postgres://app@localhost:5432/app")
            .param("password", ParamKind::Secret, false, "password: { env = \"VAR\" } or { file = \"path\" }")
            .param_shaped(
                "sslmode",
                ParamKind::String,
                false,
                "disable, prefer (default), require, verify-ca or verify-full; or ?sslmode= in the target",
                Shape::string().one_of(SSLMODES),
            )
            .param("query", ParamKind::String, false, "one read-only statement returning one number, thresholded as query_value")
            .metric("db_size", "B", "pg_database_size of the target database")
            .metric("connections", "", "client connections to the server")
            .metric("connections_used", "%", "client connections as a percent of max_connections")
            .metric("max_connections", "", "the server's max_connections")
            .metric("longest_query", "s", "age of the longest-running active query")
            .metric("longest_idle_in_transaction", "s", "age of the longest idle-in-transaction session")
            .metric("slowest_statement_mean", "s", "highest mean_exec_time in pg_stat_statements, when installed")
            .only("when pg_stat_statements is installed")
            .metric("query_value", "", "the number the `query` param returned")
            .only("with a `query` param")
            .metric("connect_time", "s", "connect, TLS and authentication")
            .metric_lower_is_worse("cert_expires_days", "days", "days until the server certificate expires (TLS only)")
            .only("over TLS")
            .build()
    }

    fn check(cfg: Config) -> Report {
        match run(&cfg) {
            Ok(r) | Err(r) => r,
        }
    }
}

type Conn = BufReader<TcpStream>;

fn pg_report(e: &PgError) -> Report {
    let what = match e.code.as_str() {
        "28P01" | "28000" => "authentication failed",
        "3D000" => "unknown database",
        "53300" => "too many connections",
        "57P03" => "server not accepting connections",
        _ => "server error",
    };
    Report::critical(format!("{what}: {e}"))
}

fn protocol(tag: u8, during: &str) -> Report {
    Report::unknown(format!("protocol error: unexpected message {:?} during {during}; is this a PostgreSQL server?", tag as char))
}

fn run(cfg: &Config) -> Result<Report, Report> {
    let p: Params = cfg.params()?;
    let t = cfg.endpoint()?;
    if t.scheme != "postgres" && t.scheme != "postgresql" {
        return Err(Report::unknown(format!("target scheme {:?} is not postgres://", t.scheme)));
    }
    let user = t.user.clone().ok_or_else(|| Report::unknown("target has no user: write postgres://USER@host/db"))?;
    let database = if t.path.is_empty() { user.clone() } else { t.path.clone() };
    let password = p.password.clone().or(t.password.clone());
    let sslmode = p.sslmode.clone().or(t.query("sslmode").map(str::to_string)).unwrap_or_else(|| "prefer".into());
    let (try_tls, need_tls) = match sslmode.as_str() {
        "disable" | "allow" => (false, false),
        "prefer" => (true, false),
        "require" | "verify-ca" | "verify-full" => (true, true),
        other => {
            return Err(Report::unknown(format!("sslmode {other:?} is not disable, allow, prefer, require, verify-ca or verify-full")));
        }
    };
    let port = t.port_or_report()?;
    let timeout = cfg.io_timeout_ms();

    let sw = Stopwatch::start();
    let mut stream = connect_or_report(&t.host, port, timeout)?;
    if try_tls {
        wire::ssl_request(&mut stream).map_err(|e| io_report("SSLRequest", &e))?;
        let mut answer = [0u8; 1];
        stream.read_exact(&mut answer).map_err(|e| io_report("SSLRequest", &e))?;
        match answer[0] {
            b'S' => stream.start_tls().map_err(|e| Report::critical(format!("TLS with {}:{port} failed: {}", t.host, e.message)))?,
            b'N' if need_tls => {
                return Err(Report::critical(format!("server does not offer TLS, but sslmode={sslmode} requires it")));
            }
            b'N' => {}
            other => return Err(protocol(other, "the SSLRequest")),
        }
    }
    let cert_days = stream.cert_expires_days();
    let mut conn = BufReader::new(stream);
    wire::startup(conn.get_mut(), &user, &database).map_err(|e| io_report("startup", &e))?;
    authenticate(&mut conn, &user, password.as_deref())?;
    let connect_time = sw.elapsed_secs();

    let mut report = Report::ok(String::new()).metric("connect_time", connect_time, "s");
    if let Some(d) = cert_days {
        report.push_metric("cert_expires_days", d, "days");
    }
    let row = simple_query(
        &mut conn,
        "SELECT pg_database_size(current_database())::float8, \
         (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::float8, \
         current_setting('max_connections')::float8, \
         COALESCE((SELECT extract(epoch FROM max(clock_timestamp() - query_start)) FROM pg_stat_activity \
                   WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()), 0)::float8, \
         COALESCE((SELECT extract(epoch FROM max(clock_timestamp() - state_change)) FROM pg_stat_activity \
                   WHERE state LIKE 'idle in transaction%'), 0)::float8, \
         (SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements')::int, \
         current_setting('server_version')",
    )?
    .map_err(|e| pg_report(&e))?;
    let num = |i: usize| row.get(i).cloned().flatten().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let (size, conns, max_conns) = (num(0), num(1), num(2));
    report.push_metric("db_size", size, "B");
    report.push_metric("connections", conns, "");
    report.push_metric("max_connections", max_conns, "");
    if max_conns > 0.0 {
        report.push_metric("connections_used", conns * 100.0 / max_conns, "%");
    }
    report.push_metric("longest_query", num(3), "s");
    report.push_metric("longest_idle_in_transaction", num(4), "s");
    let version = row.get(6).cloned().flatten().unwrap_or_default();
    let mut notes = Vec::new();
    if num(5) > 0.0 {
        match simple_query(&mut conn, "SELECT COALESCE(max(mean_exec_time), 0) / 1000.0 FROM pg_stat_statements")? {
            Ok(r) => {
                report.push_metric("slowest_statement_mean", r.first().cloned().flatten().and_then(|v| v.parse().ok()).unwrap_or(0.0), "s")
            }
            Err(e) => notes.push(format!("pg_stat_statements unreadable: {}", e.message)),
        }
    } else {
        notes.push("pg_stat_statements not installed".to_string());
    }
    if let Some(q) = &p.query {
        let v = custom_query(&mut conn, q)?;
        report.push_metric("query_value", v, "");
        notes.push(format!("query = {v}"));
    }
    let _ = write_message(conn.get_mut(), b'X', &[]);
    report.summary = format!(
        "postgres {version} {database}: {} , {conns}/{max_conns} connections, connected in {}",
        bytes(size),
        human_secs(connect_time)
    )
    .replace(" ,", ",");
    if !notes.is_empty() {
        report.summary = format!("{}; {}", report.summary, notes.join("; "));
    }
    Ok(report)
}

fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{v:.1} {}", UNITS[i])
}

/// Runs the authentication exchange until ReadyForQuery.
fn authenticate(conn: &mut Conn, user: &str, password: Option<&str>) -> Result<(), Report> {
    let need = |method: &str| {
        password
            .ok_or_else(|| Report::critical(format!("the server asks for a password ({method}) but the check has none: set `password`")))
    };
    let mut scram: Option<auth::Scram> = None;
    loop {
        let m = read_message(conn).map_err(|e| io_report("authentication", &e))?;
        match m.tag {
            b'R' => {
                let code = m.body.get(0..4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(-1);
                match code {
                    0 => {}
                    3 => send_password(conn, &cstr(need("cleartext")?))?,
                    5 => {
                        let salt = m.body.get(4..8).ok_or_else(|| protocol(b'R', "md5 authentication"))?;
                        send_password(conn, &cstr(&auth::md5_password(user, need("md5")?, salt)))?;
                    }
                    10 => {
                        let mechanisms = String::from_utf8_lossy(&m.body[4..]).into_owned();
                        if !mechanisms.split('\0').any(|mech| mech == "SCRAM-SHA-256") {
                            return Err(Report::unknown(format!(
                                "the server offers SASL mechanisms {mechanisms:?}; picket speaks SCRAM-SHA-256"
                            )));
                        }
                        need("scram-sha-256")?;
                        let s = auth::Scram::new().map_err(Report::unknown)?;
                        let first = s.client_first();
                        let mut body = cstr("SCRAM-SHA-256");
                        body.extend_from_slice(&(first.len() as i32).to_be_bytes());
                        body.extend_from_slice(first.as_bytes());
                        send_password(conn, &body)?;
                        scram = Some(s);
                    }
                    11 => {
                        let s = scram.as_mut().ok_or_else(|| protocol(b'R', "SCRAM (continue before start)"))?;
                        let server_first = String::from_utf8_lossy(&m.body[4..]).into_owned();
                        let fin =
                            s.client_final(&server_first, need("scram-sha-256")?).map_err(|e| Report::unknown(format!("SCRAM: {e}")))?;
                        send_password(conn, fin.as_bytes())?;
                    }
                    12 => {
                        let s = scram.as_ref().ok_or_else(|| protocol(b'R', "SCRAM (final before start)"))?;
                        s.verify_server(&String::from_utf8_lossy(&m.body[4..])).map_err(|e| Report::critical(format!("SCRAM: {e}")))?;
                    }
                    other => {
                        return Err(Report::unknown(format!(
                            "the server asks for authentication method {other}, which picket does not speak (trust, password, md5, scram-sha-256)"
                        )));
                    }
                }
            }
            b'E' => return Err(pg_report(&wire::parse_error(&m.body))),
            b'S' | b'K' | b'N' => {}
            b'Z' => return Ok(()),
            other => return Err(protocol(other, "authentication")),
        }
    }
}

fn send_password(conn: &mut Conn, body: &[u8]) -> Result<(), Report> {
    let w = conn.get_mut();
    write_message(w, b'p', body).and_then(|_| w.flush()).map_err(|e| io_report("authentication", &e))
}

/// Runs a simple query and returns its first row; the outer error is I/O or protocol,
/// the inner one the server's error for this query (after which the session goes on).
fn simple_query(conn: &mut Conn, sql: &str) -> Result<Result<Vec<Option<String>>, PgError>, Report> {
    let w = conn.get_mut();
    write_message(w, b'Q', &cstr(sql)).and_then(|_| w.flush()).map_err(|e| io_report("query", &e))?;
    collect(conn, "a query").map(|r| r.map(|rows| rows.into_iter().next().unwrap_or_default()))
}

/// A result set: rows of text columns, `None` for SQL NULL.
type Rows = Vec<Vec<Option<String>>>;

/// Reads rows until ReadyForQuery.
fn collect(conn: &mut Conn, during: &str) -> Result<Result<Rows, PgError>, Report> {
    let mut rows = Vec::new();
    let mut error = None;
    loop {
        let m = read_message(conn).map_err(|e| io_report(during, &e))?;
        match m.tag {
            b'T' => {}
            b'D' if rows.len() < 2 => rows.push(wire::parse_data_row(&m.body).map_err(|e| io_report(during, &e))?),
            b'D' => rows.push(Vec::new()), // only the count matters past the second row
            b'E' => error = Some(wire::parse_error(&m.body)),
            b'C' | b'I' | b'N' | b'S' | b'1' | b'2' | b'n' => {}
            b'Z' => return Ok(error.map_or(Ok(rows), Err)),
            other => return Err(protocol(other, during)),
        }
    }
}

/// One read-only statement through the extended protocol; must return one number.
fn custom_query(conn: &mut Conn, sql: &str) -> Result<f64, Report> {
    if let Err(e) = simple_query(conn, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")? {
        return Err(pg_report(&e));
    }
    let w = conn.get_mut();
    let mut parse = cstr("");
    parse.extend_from_slice(&cstr(sql));
    parse.extend_from_slice(&0i16.to_be_bytes());
    let mut bind = cstr("");
    bind.extend_from_slice(&cstr(""));
    bind.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut describe = vec![b'P'];
    describe.extend_from_slice(&cstr(""));
    let mut execute = cstr("");
    execute.extend_from_slice(&0i32.to_be_bytes());
    let sent = write_message(w, b'P', &parse)
        .and_then(|_| write_message(w, b'B', &bind))
        .and_then(|_| write_message(w, b'D', &describe))
        .and_then(|_| write_message(w, b'E', &execute))
        .and_then(|_| write_message(w, b'S', &[]))
        .and_then(|_| w.flush());
    sent.map_err(|e| io_report("query", &e))?;
    let rows = collect(conn, "the custom query")?.map_err(|e| Report::critical(format!("query failed: {e}")))?;
    let bad = |why: String| Report::unknown(format!("query must return one number: {why}"));
    match rows.len() {
        1 => {}
        n => return Err(bad(format!("it returned {n} rows"))),
    }
    match rows[0].as_slice() {
        [Some(v)] => v.trim().parse::<f64>().map_err(|_| bad(format!("{v:?} is not a number"))),
        [None] => Err(bad("it returned NULL".into())),
        cols => Err(bad(format!("it returned {} columns", cols.len()))),
    }
}

export_plugin!(Postgres);
