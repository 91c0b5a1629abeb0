//! Benchmarks for BENCHMARKS.md (`cargo xtask bench`). Prints a table; asserts nothing.
//!
//! 1. Warm sandbox overhead: one no-op check (fresh store, instantiate, call, evaluate)
//!    run sequentially, p50/p90/p99.
//! 2. HTTP check throughput against a local tokio server, at the default concurrency.
//! 3. `picket check -c checks/` wall time with a warm and a cold compile cache, against
//!    local stand-ins for the seed services.
//! 4. Redis and PostgreSQL check latency, in-process, beside `redis-cli ping` and
//!    monitoring-plugins' `check_pgsql` run as processes against the same servers.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use picket::config;
use picket::engine::Engine;
use picket::plugin::Plugins;
use picket::runner::{DEFAULT_CONCURRENCY, Runner};
use picket::sandbox::Sandbox;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Minor page faults of this process so far (field 10 of /proc/self/stat).
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    after_comm.split_whitespace().nth(7).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_millis(1) { format!("{:.1} µs", d.as_secs_f64() * 1e6) } else { format!("{:.2} ms", d.as_secs_f64() * 1e3) }
}

fn row(name: &str, value: String, note: &str) {
    println!("| {name:<44} | {value:>22} | {note} |");
}

async fn plan(toml: &str, plugins: &Plugins) -> (tempfile::TempDir, config::Plan) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.toml");
    std::fs::write(&path, toml).unwrap();
    let plan = config::load(&path, plugins).await.unwrap();
    (dir, plan)
}

/// A minimal keep-nothing HTTP/1.1 server: reads the head, answers, closes.
async fn http_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let body = br#"{"status":"healthy"}"#;
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(body).await;
            });
        }
    });
    addr
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-cache");
    let plugins = Plugins::new(Arc::new(Sandbox::new(Engine::new(Some(cache)).unwrap()).unwrap()));
    let fixture = PathBuf::from(picket::sandbox::FIXTURE_DIR).join("fixtures.wasm");

    // `cargo xtask bench noop` (or http, cli, db) runs one section.
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let want = |s: &str| only.is_empty() || only.iter().any(|o| o == s);

    println!("| benchmark | result | notes |");
    println!("|---|---|---|");

    rt.block_on(async {
        // 1. Warm no-op overhead: the import-free no-op (the sandbox's own cost), then the
        // std-based fixture in its no-op mode (what a Rust std plugin adds).
        if want("noop") {
            let dir = PathBuf::from(picket::sandbox::FIXTURE_DIR);
            let noop = dir.join("noop.wasm").display().to_string();
            let fixture = fixture.display().to_string();
            noop_row(&plugins, "no-op check, warm (store+instantiate+call)", &format!("[[check]]\nname = \"noop\"\nplugin = {noop:?}\ntarget = \"/\"\n")).await;
            noop_row(&plugins, "no-op check, Rust std guest (16 WASI imports)", &format!("[[check]]\nname = \"noop\"\nplugin = {fixture:?}\ntarget = \"/\"\nmode = \"ok\"\n")).await;
        }
        if !want("http") {
            return;
        }

        // 2. HTTP throughput.
        let addr = http_server().await;
        let mut toml = String::new();
        let checks = 64;
        for i in 0..checks {
            toml.push_str(&format!("[[check]]\nname = \"h{i}\"\nplugin = \"http\"\ntarget = \"http://{addr}/health\"\nexpect = {{ json = {{ status = \"healthy\" }} }}\n"));
        }
        let (_d2, p) = plan(&toml, &plugins).await;
        let runner = Runner::new(plugins.clone(), DEFAULT_CONCURRENCY);
        runner.run_all(&p.checks, &|_| {}).await;
        let rounds = 40;
        let t = Instant::now();
        for _ in 0..rounds {
            let rs = runner.run_all(&p.checks, &|_| {}).await;
            assert!(rs.iter().all(|r| r.status == picket::result::Status::Ok), "{:?}", rs[0]);
        }
        let el = t.elapsed();
        let total = (checks * rounds) as f64;
        row("http check throughput, local server", format!("{:.0} checks/s", total / el.as_secs_f64()), &format!("{} checks, concurrency {DEFAULT_CONCURRENCY}, new connection each", total as u64));
    });

    if want("db") {
        rt.block_on(db_section(&plugins));
    }

    // 3. picket check wall time on checks/ against stand-ins.
    if !want("cli") {
        return;
    }
    rt.block_on(async {
        for port in [3003u16, 3007] {
            if let Ok(l) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                tokio::spawn(async move {
                    loop {
                        let Ok((mut s, _)) = l.accept().await else { continue };
                        tokio::spawn(async move {
                            let mut buf = vec![0u8; 4096];
                            let _ = s.read(&mut buf).await;
                            let body = br#"{"status":"healthy"}"#;
                            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
                            let _ = s.write_all(head.as_bytes()).await;
                            let _ = s.write_all(body).await;
                        });
                    }
                });
            }
        }
        if let Ok(l) = tokio::net::TcpListener::bind(("127.0.0.1", 6379)).await {
            tokio::spawn(async move {
                loop {
                    let Ok((mut s, _)) = l.accept().await else { continue };
                    tokio::spawn(async move {
                        let mut buf = [0u8; 512];
                        while let Ok(n) = s.read(&mut buf).await {
                            if n == 0 || s.write_all(b"+PONG\r\n").await.is_err() {
                                break;
                            }
                        }
                    });
                }
            });
        }
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let bin = env!("CARGO_BIN_EXE_picket");
        let run = |cache: &std::path::Path| {
            let t = Instant::now();
            // The four checks whose stand-ins this bench serves (the data-store checks
            // need real servers and are measured in the db section).
            let out = Command::new(bin)
                .current_dir(&root)
                .args(["check", "-c", "checks", "--only", "mech-queue", "mech-storage", "redis-temp", "root-disk"])
                .env("PICKET_CACHE_DIR", cache)
                .env("APP_DB_PASSWORD", "unused")
                .output()
                .unwrap();
            let el = t.elapsed();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
            el
        };
        let warm_dir = tempfile::tempdir().unwrap();
        tokio::task::block_in_place(|| {
            run(warm_dir.path());
            let mut warm: Vec<Duration> = (0..30).map(|_| run(warm_dir.path())).collect();
            warm.sort();
            row(
                "`picket check -c checks/`, warm cache",
                format!("p50 {}", fmt(pct(&warm, 0.5))),
                &format!("max {}, 4 checks, n=30, whole process", fmt(*warm.last().unwrap())),
            );
            let mut cold: Vec<Duration> = (0..5)
                .map(|_| {
                    let d = tempfile::tempdir().unwrap();
                    run(d.path())
                })
                .collect();
            cold.sort();
            row("`picket check -c checks/`, cold cache", format!("p50 {}", fmt(pct(&cold, 0.5))), "compiles http, tcp, disk; n=5");
        });
    });
}

/// Runs one check sequentially and prints p50/p90/p99 and page faults per run.
async fn noop_row(plugins: &Plugins, label: &str, toml: &str) {
    let (_d, p) = plan(toml, plugins).await;
    let runner = Runner::new(plugins.clone(), 1);
    let spec = p.checks[0].clone();
    let n: usize = std::env::var("BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(5000);
    for _ in 0..n.min(200) {
        runner.run_one(&spec).await;
    }
    let faults_before = minor_faults();
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = runner.run_one(&spec).await;
        times.push(t.elapsed());
        assert_eq!(r.status, picket::result::Status::Ok, "{r:?}");
    }
    let faults = (minor_faults() - faults_before) as f64 / n as f64;
    times.sort();
    row(
        label,
        format!("p50 {}", fmt(pct(&times, 0.5))),
        &format!("p90 {}, p99 {}, {faults:.1} page faults/run, n={n}, sequential", fmt(pct(&times, 0.9)), fmt(pct(&times, 0.99))),
    );
}

/// p50 of `n` sequential runs of one check, in-process.
async fn check_p50(plugins: &Plugins, toml: &str, n: usize) -> Duration {
    let (_d, p) = plan(toml, plugins).await;
    let runner = Runner::new(plugins.clone(), 1);
    let spec = p.checks[0].clone();
    for _ in 0..20 {
        let r = runner.run_one(&spec).await;
        assert_eq!(r.status, picket::result::Status::Ok, "{r:?}");
    }
    let mut t: Vec<Duration> = Vec::with_capacity(n);
    for _ in 0..n {
        let s = Instant::now();
        runner.run_one(&spec).await;
        t.push(s.elapsed());
    }
    t.sort();
    pct(&t, 0.5)
}

/// p50 wall time of `n` runs of a command, which must succeed.
fn process_p50(program: &str, args: &[&str], env: &[(&str, &str)], n: usize) -> Duration {
    let mut t: Vec<Duration> = Vec::with_capacity(n);
    for _ in 0..n + 3 {
        let s = Instant::now();
        let out = Command::new(program).args(args).envs(env.iter().copied()).output().unwrap_or_else(|e| panic!("{program}: {e}"));
        t.push(s.elapsed());
        assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stdout));
    }
    t.drain(..3);
    t.sort();
    pct(&t, 0.5)
}

async fn db_section(plugins: &Plugins) {
    use picket_testkit::postgres::{PgServer, SCRAM_USER, TRUST_USER};
    let redis = picket_testkit::redis::RedisServer::start("");
    let port = redis.port.to_string();
    let ours =
        check_p50(plugins, &format!("[[check]]\nname = \"r\"\nplugin = \"redis\"\ntarget = \"redis://127.0.0.1:{port}\"\n"), 2000).await;
    let theirs = tokio::task::block_in_place(|| process_p50("redis-cli", &["-h", "127.0.0.1", "-p", &port, "ping"], &[], 300));
    row("redis check (PING + INFO), picket in-process", format!("p50 {}", fmt(ours)), "n=2000, sequential");
    let raw = check_p50(
        plugins,
        &format!("[[check]]\nname = \"t\"\nplugin = \"tcp\"\ntarget = \"127.0.0.1:{port}\"\nsend = \"PING\\r\\n\"\nexpect = \"+PONG\"\n"),
        2000,
    )
    .await;
    row("tcp check (PING/+PONG) to the same redis", format!("p50 {}", fmt(raw)), "n=2000, sequential");
    row(
        "`redis-cli ping` as a process",
        format!("p50 {}", fmt(theirs)),
        &format!("n=300; picket is {:.1}x faster", theirs.as_secs_f64() / ours.as_secs_f64()),
    );

    let pg = tokio::task::block_in_place(PgServer::plain);
    let pport = pg.port.to_string();
    let check_pgsql = "/usr/lib/nagios/plugins/check_pgsql";
    for (label, user, password) in [("trust", TRUST_USER, None), ("scram-sha-256", SCRAM_USER.0, Some(SCRAM_USER.1))] {
        let pw = password.map(|p| format!("password = \"{p}\"\n")).unwrap_or_default();
        let toml = format!(
            "[[check]]\nname = \"pg\"\nplugin = \"postgres\"\ntarget = \"postgres://{user}@127.0.0.1:{pport}/app?sslmode=disable\"\n{pw}"
        );
        let ours = check_p50(plugins, &toml, 500).await;
        let mut args = vec!["-H", "127.0.0.1", "-P", &pport, "-d", "app", "-l", user];
        if let Some(p) = password {
            args.extend(["-p", p]);
        }
        let theirs = tokio::task::block_in_place(|| process_p50(check_pgsql, &args, &[("PGSSLMODE", "disable")], 100));
        row(
            &format!("postgres check, {label}, picket in-process"),
            format!("p50 {}", fmt(ours)),
            "n=500; connect, auth, size/connections/sessions query, pg_stat_statements",
        );
        row(
            &format!("`check_pgsql`, {label}, as a process"),
            format!("p50 {}", fmt(theirs)),
            &format!("n=100, connect only; picket is {:.1}x faster", theirs.as_secs_f64() / ours.as_secs_f64()),
        );
    }
}
