//! The built-in `redis` check: RESP over the host's `tcp` capability (TLS for `rediss://`),
//! AUTH (password, or ACL user and password), SELECT, PING, then metrics from INFO.
//!
//! ```toml
//! [[check]]
//! name = "queue-redis"
//! plugin = "redis"
//! target = "redis://localhost:6379/0"
//! password = { env = "REDIS_PASSWORD" }
//! thresholds = { used_memory_pct = { warn = "80%", crit = "95%" } }
//! ```
//!
//! `used_memory_pct` is of `maxmemory`, or of `total_system_memory` when `maxmemory` is 0,
//! and the summary names which.

use std::io::{BufReader, Write};

use picket_sdk::net::{TcpStream, connect_or_report, io_report};
use picket_sdk::resp::{Reply, parse_info, read_reply, write_command};
use picket_sdk::time::{Stopwatch, human_secs};
use picket_sdk::{Config, Info, ParamKind, Plugin, Report, Status, export_plugin, info};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Params {
    password: Option<String>,
    user: Option<String>,
    db: Option<u32>,
}

struct Redis;

impl Plugin for Redis {
    fn describe() -> Info {
        info("redis", "Redis PING and INFO metrics over RESP; TLS with rediss://")
            .url_target(&[("redis", Some(6379)), ("rediss", Some(6379))], "redis://localhost:6379")
            .param("password", ParamKind::Secret, false, "AUTH password: { env = \"VAR\" } or { file = \"path\" }")
            .param("user", ParamKind::String, false, "ACL user name (Redis 6+), if not in the target URL")
            .param("db", ParamKind::Integer, false, "database to SELECT, if not in the target URL path")
            .metric("ping_time", "s", "from sending the (pipelined) commands to the PONG")
            .metric("used_memory", "B", "used_memory from INFO")
            .metric(
                "used_memory_pct",
                "%",
                "used_memory as a percent of maxmemory, or of total_system_memory when maxmemory is 0 (the summary says which)",
            )
            .only("when INFO gives maxmemory or total_system_memory")
            .metric("connected_clients", "", "client connections")
            .metric("blocked_clients", "", "clients blocked in BLPOP and friends")
            .metric("connected_replicas", "", "replicas attached to this primary")
            .metric("rdb_last_save_age", "s", "seconds since the last successful RDB save")
            .metric("rdb_last_bgsave_failed", "", "1 when the last background save failed")
            .metric("evicted_keys", "", "keys evicted since start")
            .metric("rejected_connections", "", "connections refused by maxclients since start")
            .metric_lower_is_worse("cert_expires_days", "days", "days until the TLS certificate expires (rediss:// only)")
            .only("for rediss:// targets")
            .build()
    }

    fn check(cfg: Config) -> Report {
        match run(&cfg) {
            Ok(r) | Err(r) => r,
        }
    }
}

/// Reads the next reply; I/O problems become a critical report.
fn reply(conn: &mut BufReader<TcpStream>, what: &str) -> Result<Reply, Report> {
    read_reply(conn).map_err(|e| io_report(what, &e))
}

fn run(cfg: &Config) -> Result<Report, Report> {
    let p: Params = cfg.params()?;
    let t = cfg.endpoint()?;
    let tls = match t.scheme.as_str() {
        "redis" => false,
        "rediss" => true,
        other => return Err(Report::unknown(format!("target scheme {other:?} is not redis:// or rediss://"))),
    };
    let port = t.port_or_report()?;
    let password = p.password.or(t.password.clone());
    let user = p.user.or(t.user.clone());
    let db = match (p.db, t.path.trim_matches('/')) {
        (Some(db), _) => db,
        (None, "") => 0,
        (None, path) => path.parse().map_err(|_| Report::unknown(format!("target path {path:?} is not a database number")))?,
    };

    let mut stream = connect_or_report(&t.host, port, cfg.io_timeout_ms())?;
    if tls {
        stream.start_tls().map_err(|e| Report::critical(format!("TLS with {}:{port} failed: {}", t.host, e.message)))?;
    }
    let cert_days = stream.cert_expires_days();

    // Pipelined: AUTH, SELECT, PING and INFO go out in one write and the replies are read
    // in order, so the check costs one round trip after connecting, not four.
    let db_text = db.to_string();
    let mut out = Vec::new();
    if let Some(pw) = &password {
        let mut args: Vec<&[u8]> = vec![b"AUTH"];
        if let Some(u) = &user {
            args.push(u.as_bytes());
        }
        args.push(pw.as_bytes());
        let _ = write_command(&mut out, &args);
    }
    if db != 0 {
        let _ = write_command(&mut out, &[b"SELECT", db_text.as_bytes()]);
    }
    let _ = write_command(&mut out, &[b"PING"]);
    let _ = write_command(&mut out, &[b"INFO"]);
    let sw = Stopwatch::start();
    stream.write_all(&out).map_err(|e| io_report("PING", &e))?;
    let mut conn = BufReader::new(stream);

    if password.is_some()
        && let Reply::Error(e) = reply(&mut conn, "AUTH")?
    {
        // The server's text never contains the password; keep only its first word.
        let code = e.split_whitespace().next().unwrap_or("ERR");
        return Err(Report::critical(format!("authentication failed ({code}) for user {}", user.as_deref().unwrap_or("default"))));
    }
    if db != 0
        && let Reply::Error(e) = reply(&mut conn, "SELECT")?
    {
        return Err(auth_or(&e, format!("SELECT {db} failed: {e}")));
    }
    let pong = reply(&mut conn, "PING")?;
    let ping = sw.elapsed_secs();
    match &pong {
        Reply::Simple(s) if s == "PONG" => {}
        Reply::Error(e) => return Err(auth_or(e, format!("PING failed: {e}"))),
        other => return Err(Report::critical(format!("PING answered {other:?}, not PONG"))),
    }

    let mut report = Report::ok(String::new()).metric("ping_time", ping, "s");
    if let Some(d) = cert_days {
        report.push_metric("cert_expires_days", d, "days");
    }
    let info = match reply(&mut conn, "INFO")? {
        Reply::Error(e) => {
            // INFO can be disabled for a restricted ACL user; PING alone still answers "up".
            report.summary = format!("PONG in {}; INFO not allowed ({e})", human_secs(ping));
            return Ok(report);
        }
        r => r.text().unwrap_or_default(),
    };
    let fields = parse_info(&info);
    let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
    let num = |k: &str| get(k).and_then(|v| v.parse::<f64>().ok());
    for (metric, field, unit) in [
        ("used_memory", "used_memory", "B"),
        ("connected_clients", "connected_clients", ""),
        ("blocked_clients", "blocked_clients", ""),
        ("connected_replicas", "connected_slaves", ""),
        ("evicted_keys", "evicted_keys", ""),
        ("rejected_connections", "rejected_connections", ""),
    ] {
        if let Some(v) = num(field) {
            report.push_metric(metric, v, unit);
        }
    }
    let mut notes = Vec::new();
    // Without maxmemory (0, the default) Redis grows until the host runs out, so the
    // host's memory is then the limit that matters; the summary says which one was used.
    let positive = |k: &str| num(k).filter(|v| *v > 0.0);
    let limit = positive("maxmemory").map(|m| (m, "maxmemory")).or(positive("total_system_memory").map(|m| (m, "total_system_memory")));
    let mut memory = String::new();
    if let (Some(used), Some((limit, basis))) = (num("used_memory"), limit) {
        let pct = used * 100.0 / limit;
        report.push_metric("used_memory_pct", pct, "%");
        let why = if basis == "maxmemory" { "" } else { " (maxmemory is 0)" };
        memory = format!("; memory {pct:.1}% of {basis}{why}");
    }
    if let Some(last) = num("rdb_last_save_time") {
        let now = picket_sdk::cap::clock::wall_ms() as f64 / 1000.0;
        report.push_metric("rdb_last_save_age", (now - last).max(0.0), "s");
    }
    if let Some(status) = get("rdb_last_bgsave_status") {
        let failed = status != "ok";
        report.push_metric("rdb_last_bgsave_failed", if failed { 1.0 } else { 0.0 }, "");
        if failed {
            report.status = Status::Warning;
            notes.push("last background save failed".to_string());
        }
    }
    let role = get("role").unwrap_or("unknown");
    let version = get("redis_version").unwrap_or("?");
    let clients = num("connected_clients").map(|c| format!(", {c} clients")).unwrap_or_default();
    report.summary = format!("PONG in {}; redis {version} {role}{clients}{memory}", human_secs(ping));
    if !notes.is_empty() {
        report.summary = format!("{}; {}", report.summary, notes.join("; "));
    }
    Ok(report)
}

/// NOAUTH means a password is required and none (or the wrong user) was given.
fn auth_or(err: &str, otherwise: String) -> Report {
    if err.starts_with("NOAUTH") {
        Report::critical("authentication required (NOAUTH): set `password` in the check".to_string())
    } else {
        Report::critical(otherwise)
    }
}

export_plugin!(Redis);
