//! Daemon benchmarks for BENCHMARKS.md (`cargo xtask bench scale|blackbox`). Prints a
//! table; asserts nothing. Every figure comes from a real `picket run` process (release
//! build) with its SQLite store on, read through its own /metrics and /proc.
//!
//! - `scale`: 10,000 scheduled checks, no-op plugin and TCP against a local listener:
//!   sustained checks/s, p99 scheduling lateness and start delay (from the daemon's
//!   histograms, over the measurement window only), peak RSS, CPU per check.
//! - `blackbox`: HTTP checks against a local nginx, beside Prometheus blackbox_exporter
//!   probing the same nginx in the same run: probes per CPU-second of each prober.
//! - `store`: a simulated year of results through the store's writer and maintenance:
//!   the SQLite file size for 1,000 checks every 30 s.
//! - `storm`: an outage storm: 1,000 checks fail at once, each incident notified through
//!   the outbox to a local webhook; event → receipt latency and delivery rate, then the
//!   same with the receiver down for 10 s (how fast the backlog drains once it is back).
//! - `reload`: a daemon running 20 checks every 100 ms is reloaded with a check on the
//!   Python example plugin (18 MB, not in the compile cache): how long the reload takes,
//!   and the other checks' start delay and rate while it compiles, beside a quiet window;
//!   then a restart with the plugin cached.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use picket_testkit::daemon::{DaemonProc, eventually, http};
use picket_testkit::servers::{HttpServer, Reply, closed_port};

/// /proc reports CPU in USER_HZ ticks, 100 per second on Linux.
const TICKS: f64 = 100.0;

fn cpu_seconds(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("").split_whitespace().collect();
    // After the command: state is field 3, utime 14 and stime 15 (1-based).
    let at = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (at(14) + at(15)) / TICKS
}

fn rss_mib(pid: i32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn row(name: &str, value: String, note: &str) {
    println!("| {name:<50} | {value:>24} | {note} |");
}

/// The counters this bench reads from /metrics.
#[derive(Debug, Clone, Default)]
struct Sample {
    at: Option<Instant>,
    runs: f64,
    skipped: f64,
    /// Cumulative lateness buckets (le, count), +Inf last: due → dispatch.
    lateness: Vec<(f64, f64)>,
    /// The same for due → start.
    start_delay: Vec<(f64, f64)>,
    cpu: f64,
}

fn sample(d: &DaemonProc) -> Sample {
    let body = d.get("/metrics").body;
    let value = |name: &str| body.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().parse::<f64>().unwrap_or(0.0))).unwrap_or(0.0);
    let buckets = |family: &str| {
        let prefix = format!("{family}_bucket{{le=\"");
        let mut out = Vec::new();
        for l in body.lines() {
            if let Some(rest) = l.strip_prefix(prefix.as_str()) {
                let (le, count) = rest.split_once("\"} ").unwrap();
                let le = if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap() };
                out.push((le, count.parse().unwrap()));
            }
        }
        out
    };
    let (lateness, start_delay) = (buckets("picket_scheduler_lateness_seconds"), buckets("picket_check_start_delay_seconds"));
    Sample {
        at: Some(Instant::now()),
        runs: value("picket_checks_run_total "),
        skipped: value("picket_checks_skipped_total "),
        lateness,
        start_delay,
        cpu: cpu_seconds(d.pid()),
    }
}

/// The `q` quantile of the lateness observed between two samples, interpolated within
/// its bucket (as Prometheus' histogram_quantile).
fn quantile(a: &[(f64, f64)], b: &[(f64, f64)], q: f64) -> f64 {
    let buckets: Vec<(f64, f64)> = b.iter().zip(a).map(|((le, nb), (_, na))| (*le, nb - na)).collect();
    let total = buckets.last().map(|b| b.1).unwrap_or(0.0);
    if total == 0.0 {
        return f64::NAN;
    }
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for (le, cum) in buckets {
        if cum >= rank {
            if le.is_infinite() {
                return prev.0;
            }
            let within = cum - prev.1;
            return prev.0 + (le - prev.0) * if within > 0.0 { (rank - prev.1) / within } else { 1.0 };
        }
        prev = (le, cum);
    }
    prev.0
}

struct Measured {
    rate: f64,
    cpu_per_check_us: f64,
    cpu_cores: f64,
    p50_ms: f64,
    p99_ms: f64,
    start_p50_ms: f64,
    start_p99_ms: f64,
    rss_peak: f64,
    skipped: f64,
}

/// Waits until every check has run once and `settle` more, then measures over `window`.
fn measure(d: &DaemonProc, checks: usize, settle: Duration, window: Duration) -> Measured {
    eventually(Duration::from_secs(300), "every check to run once", || (sample(d).runs >= checks as f64).then_some(()));
    std::thread::sleep(settle);
    let a = sample(d);
    let start = Instant::now();
    let mut rss_peak: f64 = 0.0;
    while start.elapsed() < window {
        rss_peak = rss_peak.max(rss_mib(d.pid()));
        std::thread::sleep(Duration::from_millis(500));
    }
    let b = sample(d);
    rss_peak = rss_peak.max(rss_mib(d.pid()));
    let secs = (b.at.unwrap() - a.at.unwrap()).as_secs_f64();
    let runs = b.runs - a.runs;
    Measured {
        rate: runs / secs,
        cpu_per_check_us: (b.cpu - a.cpu) / runs * 1e6,
        cpu_cores: (b.cpu - a.cpu) / secs,
        p50_ms: quantile(&a.lateness, &b.lateness, 0.5) * 1e3,
        p99_ms: quantile(&a.lateness, &b.lateness, 0.99) * 1e3,
        start_p50_ms: quantile(&a.start_delay, &b.start_delay, 0.5) * 1e3,
        start_p99_ms: quantile(&a.start_delay, &b.start_delay, 0.99) * 1e3,
        rss_peak,
        skipped: b.skipped - a.skipped,
    }
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("checks.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn daemon(dir: &Path, config: &Path) -> DaemonProc {
    let store = dir.join("picket.db");
    DaemonProc::start_logging(config, &["--store", store.to_str().unwrap()], "warn")
}

fn report(label: &str, n: usize, every: &str, m: &Measured) {
    row(
        &format!("{label}: sustained"),
        format!("{:.0} checks/s", m.rate),
        &format!("{n} checks every {every}; {:.0} skipped in the window", m.skipped),
    );
    row(
        &format!("{label}: scheduling lateness"),
        format!("p99 {:.2} ms", m.p99_ms),
        &format!("p50 {:.3} ms; due time → dispatch", m.p50_ms),
    );
    row(
        &format!("{label}: start delay"),
        format!("p99 {:.2} ms", m.start_p99_ms),
        &format!("p50 {:.3} ms; due time → running (a run slot and a worker thread free)", m.start_p50_ms),
    );
    row(&format!("{label}: daemon RSS"), format!("{:.1} MiB peak", m.rss_peak), "VmRSS, sampled every 0.5 s");
    row(
        &format!("{label}: CPU per check"),
        format!("{:.0} µs", m.cpu_per_check_us),
        &format!("{:.2} cores busy; user+sys of the daemon, store writes included", m.cpu_cores),
    );
}

fn scale(window: Duration) {
    let n: usize = std::env::var("BENCH_CHECKS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let noop = PathBuf::from(picket::sandbox::FIXTURE_DIR).join("noop.wasm");
    for every in ["5s", "1s"] {
        let dir = tempfile::tempdir().unwrap();
        let mut toml = format!("[defaults]\nevery = {every:?}\n\n");
        for i in 0..n {
            toml.push_str(&format!("[[check]]\nname = \"noop-{i}\"\nplugin = {:?}\ntarget = \"/\"\n\n", noop.display().to_string()));
        }
        let config = write_config(dir.path(), &toml);
        let t = Instant::now();
        let d = daemon(dir.path(), &config);
        let started = t.elapsed();
        let m = measure(&d, n, Duration::from_secs(5), window);
        report(&format!("no-op ×{n}"), n, every, &m);
        if every == "5s" {
            row("daemon start with 10,000 checks", format!("{:.2} s", started.as_secs_f64()), "load + validate + API listening");
        }
    }

    // TCP checks against a listener that accepts and closes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            drop(s);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let mut toml = "[defaults]\nevery = \"5s\"\n\n".to_string();
    for i in 0..n {
        toml.push_str(&format!("[[check]]\nname = \"tcp-{i}\"\nplugin = \"tcp\"\ntarget = \"{addr}\"\n\n"));
    }
    let config = write_config(dir.path(), &toml);
    let d = daemon(dir.path(), &config);
    let m = measure(&d, n, Duration::from_secs(5), window);
    report(&format!("tcp ×{n}"), n, "5s", &m);
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_port(port: u16) {
    eventually(Duration::from_secs(20), "a listener", || std::net::TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ()));
}

fn nginx(dir: &Path) -> (Proc, u16) {
    let port = free_port();
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d};\n  proxy_temp_path {d};\n  fastcgi_temp_path {d};\n  uwsgi_temp_path {d};\n  scgi_temp_path {d};\n\
         server {{\n    listen 127.0.0.1:{port};\n    location / {{ default_type application/json; return 200 '{{\"status\":\"healthy\"}}'; }}\n  }}\n}}\n",
        d = dir.display()
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new("nginx")
        .args(["-c", path.to_str().unwrap(), "-p", dir.to_str().unwrap()])
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx");
    wait_port(port);
    (Proc(child), port)
}

fn blackbox(window: Duration) {
    let dir = tempfile::tempdir().unwrap();
    let (_nginx, nport) = nginx(dir.path());
    let target = format!("http://127.0.0.1:{nport}/health");

    // blackbox_exporter, driven as fast as it goes by 32 keep-alive clients.
    let bport = free_port();
    let bconf = dir.path().join("blackbox.yml");
    std::fs::write(&bconf, "modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n    http:\n      preferred_ip_protocol: ip4\n")
        .unwrap();
    let bb = Proc(
        Command::new("prometheus-blackbox-exporter")
            .arg(format!("--config.file={}", bconf.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{bport}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-blackbox-exporter"),
    );
    wait_port(bport);
    let probe = format!("/probe?module=http_2xx&target={}", url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>());
    let first = http(format!("127.0.0.1:{bport}").parse().unwrap(), "GET", &probe);
    assert!(first.body.contains("probe_success 1"), "blackbox cannot probe nginx: {}", first.body);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let stop = Arc::new(AtomicBool::new(false));
    let url = format!("http://127.0.0.1:{bport}{probe}");
    let bb_pid = bb.0.id() as i32;
    let cpu0 = cpu_seconds(bb_pid);
    let t0 = Instant::now();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let (client, url, ok, failed, stop) = (client.clone(), url.clone(), ok.clone(), failed.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match client.get(&url).send().await {
                        Ok(r) => match r.text().await {
                            Ok(body) if body.contains("probe_success 1") => ok.fetch_add(1, Ordering::Relaxed),
                            _ => failed.fetch_add(1, Ordering::Relaxed),
                        },
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }));
        }
        tokio::time::sleep(window).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
    });
    let secs = t0.elapsed().as_secs_f64();
    let bb_cpu = cpu_seconds(bb_pid) - cpu0;
    let bb_probes = ok.load(Ordering::Relaxed) as f64;
    let bb_rate = bb_probes / secs;
    let bb_per_cpu = bb_probes / bb_cpu;
    drop(bb);

    // picket: 2,000 HTTP checks every second against the same nginx.
    let n = 2000;
    let mut toml = "[defaults]\nevery = \"1s\"\n\n".to_string();
    for i in 0..n {
        toml.push_str(&format!(
            "[[check]]\nname = \"http-{i}\"\nplugin = \"http\"\ntarget = \"{target}\"\nexpect = {{ status = 200 }}\n\n"
        ));
    }
    let pdir = tempfile::tempdir().unwrap();
    let config = write_config(pdir.path(), &toml);
    let d = daemon(pdir.path(), &config);
    let m = measure(&d, n, Duration::from_secs(5), window);
    let failing = d.get("/metrics").body.lines().filter(|l| l.starts_with("picket_check_up{") && l.ends_with(" 0")).count();
    let picket_per_cpu = m.rate / m.cpu_cores;

    row(
        "blackbox_exporter 0.23 http probe of nginx",
        format!("{bb_rate:.0} probes/s"),
        &format!("{:.2} cores; {} failed; 32 keep-alive clients on /probe", bb_cpu / secs, failed.load(Ordering::Relaxed)),
    );
    row("blackbox_exporter: probes per CPU-second", format!("{bb_per_cpu:.0}"), "the prober's own user+sys time");
    row(
        "picket http check of the same nginx",
        format!("{:.0} checks/s", m.rate),
        &format!("{:.2} cores; {n} checks every 1s; {failing} not up; p99 lateness {:.1} ms", m.cpu_cores, m.p99_ms),
    );
    row(
        "picket: checks per CPU-second",
        format!("{picket_per_cpu:.0}"),
        &format!("{:.1}× blackbox_exporter per CPU-second; RSS {:.0} MiB", picket_per_cpu / bb_per_cpu, m.rss_peak),
    );
}

/// A simulated year of history: `checks` checks every 30 s, through the store's own
/// writer, maintenance (daily) and retention; the file size at the end, scaled to 1,000
/// checks (rows are per check, so size is linear in checks).
fn store_year(checks: usize) {
    use picket::result::{CheckResult, Metric, Status};
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("year.db");
    let store = picket::store::Store::open(&path).unwrap();
    let day_ms = 86_400_000i64;
    let start = 1_735_689_600_000i64; // 2025-01-01
    let (keep_results, keep_rollups) = (Duration::from_secs(3 * 86400), Duration::from_secs(400 * 86400));
    let t = Instant::now();
    let mut written = 0u64;
    let mut sizes = Vec::new();
    rt.block_on(async {
        for day in 0..365 {
            for tick in 0..2880 {
                let ts = start + day * day_ms + tick * 30_000;
                for c in 0..checks {
                    // A tcp check's result: two metrics, a summary with a number in it,
                    // and one failure a day.
                    let ms = 0.3 + ((tick * 7 + c as i64) % 50) as f64 / 100.0;
                    let failed = tick == 1000 + c as i64;
                    let r = CheckResult {
                        name: format!("service-{c}"),
                        plugin: "tcp".into(),
                        target: "10.0.0.1:6379".into(),
                        status: if failed { Status::Critical } else { Status::Ok },
                        summary: if failed {
                            "10.0.0.1:6379: connection refused".into()
                        } else {
                            format!("10.0.0.1:6379 answered in {ms:.2}ms")
                        },
                        duration: Duration::from_micros((ms * 1000.0) as u64 + 200),
                        metrics: vec![
                            Metric { name: "connect_time".into(), value: ms / 2000.0, unit: "s".into() },
                            Metric { name: "response_time".into(), value: ms / 1000.0, unit: "s".into() },
                        ],
                        diagnostics: None,
                        failure: None,
                        attempts: 1,
                    };
                    store.record(&r, ts);
                    written += 1;
                }
            }
            store.flush().await.unwrap();
            store.maintain(start + (day + 1) * day_ms, keep_results, keep_rollups).await.unwrap();
            if day % 91 == 90 {
                sizes.push((day + 1, store.size_bytes()));
            }
        }
    });
    let elapsed = t.elapsed();
    store.close();
    drop(store);
    let bytes = std::fs::metadata(&path).unwrap().len() as f64;
    // What the file holds at the end.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut per_table = Vec::new();
    for table in ["results", "hours"] {
        let rows: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap();
        per_table.push(format!("{table} {rows} rows"));
    }
    let scale = 1000.0 / checks as f64;
    let mib = |b: f64| b / 1048576.0;
    row(
        "store: a year of 1,000 checks every 30 s",
        format!("{:.0} MiB", mib(bytes * scale)),
        &format!(
            "{checks} checks simulated ({written} results, {:.0} inserts/s with daily maintenance; at the end {}), ×{scale:.0}; raw 3 d + hourly rollups 400 d (the defaults); after 91/182/273/364 days: {} MiB",
            written as f64 / elapsed.as_secs_f64(),
            per_table.join(", "),
            sizes.iter().map(|(_, b)| format!("{:.0}", mib(*b as f64 * scale))).collect::<Vec<_>>().join("/")
        ),
    );
}

fn main() {
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let known = ["scale", "blackbox", "store", "storm", "reload"];
    let want = |s: &str| only.is_empty() || only.iter().any(|o| o == s);
    if !only.is_empty() && !only.iter().any(|o| known.contains(&o.as_str())) {
        return;
    }
    let window = Duration::from_secs(std::env::var("BENCH_WINDOW").ok().and_then(|v| v.parse().ok()).unwrap_or(30));
    println!("| daemon benchmark | result | notes |");
    println!("|---|---|---|");
    if want("scale") {
        scale(window);
    }
    if want("blackbox") {
        blackbox(window);
    }
    if want("store") {
        store_year(std::env::var("BENCH_STORE_CHECKS").ok().and_then(|v| v.parse().ok()).unwrap_or(10));
    }
    if want("storm") {
        storm(std::env::var("BENCH_STORM_CHECKS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000));
    }
    if want("reload") {
        reload();
    }
}

/// The Python example built into `dir` (or `BENCH_RELOAD_PLUGIN`, a component to use).
fn python_plugin(dir: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("BENCH_RELOAD_PLUGIN") {
        return PathBuf::from(p);
    }
    let out = dir.join("freshness.wasm");
    let built = Command::new(picket_testkit::picket_bin())
        .args(["plugin", "build"])
        .arg(picket_testkit::root().join("examples/python/freshness"))
        .arg("-o")
        .arg(&out)
        .arg("--no-cache")
        .env("PATH", picket_testkit::toolchains::toolchain_path())
        .output()
        .unwrap();
    assert!(built.status.success(), "building the Python example: {}", String::from_utf8_lossy(&built.stderr));
    out
}

fn reload() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = python_plugin(dir.path());
    let cache = dir.path().join("cache");
    let base: String =
        (0..20).map(|i| format!("[[check]]\nname = \"disk-{i}\"\nplugin = \"disk\"\ntarget = \"/\"\nevery = \"100ms\"\n\n")).collect();
    let config = write_config(dir.path(), &base);
    let args = ["--store", dir.path().join("picket.db").to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()].map(String::from);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let d = DaemonProc::start_logging(&config, &args, "warn");
    let m = measure(&d, 20, Duration::from_secs(2), Duration::from_secs(10));
    row(
        "reload: 20 checks every 100 ms, quiet",
        format!("p99 {:.2} ms", m.start_p99_ms),
        &format!("start delay (p50 {:.2} ms); {:.0} checks/s", m.start_p50_ms, m.rate),
    );
    let with_plugin = format!(
        "{base}[[check]]\nname = \"feed\"\nplugin = {:?}\ntarget = \"http://127.0.0.1:{}/\"\nmax_age = \"10m\"\nevery = \"1h\"\n",
        plugin.display().to_string(),
        closed_port()
    );
    std::fs::write(&config, &with_plugin).unwrap();
    let a = sample(&d);
    d.signal(rustix::process::Signal::HUP);
    eventually(Duration::from_secs(300), "the reload to install the new check", || {
        d.get("/api/v1/checks/feed").status.eq(&200).then_some(())
    });
    let b = sample(&d);
    let secs = (b.at.unwrap() - a.at.unwrap()).as_secs_f64();
    row(
        "reload: adding a Python plugin, cold cache",
        format!("{secs:.1} s"),
        "SIGHUP → the new check installed; compile of 18 MB component included",
    );
    row(
        "reload: other checks while it compiles",
        format!("p99 {:.2} ms", quantile(&a.start_delay, &b.start_delay, 0.99) * 1e3),
        &format!(
            "start delay (p50 {:.2} ms, p99 lateness {:.2} ms); {:.0} checks/s of 200",
            quantile(&a.start_delay, &b.start_delay, 0.5) * 1e3,
            quantile(&a.lateness, &b.lateness, 0.99) * 1e3,
            (b.runs - a.runs) / secs
        ),
    );
    drop(d);
    let t = Instant::now();
    let d = DaemonProc::start_logging(&config, &args, "warn");
    row(
        "restart with the Python plugin cached",
        format!("{:.2} s", t.elapsed().as_secs_f64()),
        "start → API listening; loads the compiled artifact",
    );
    drop(d);
}

/// Each notification the receiver heard, with when it arrived.
type Heard = Arc<std::sync::Mutex<Vec<(chrono::DateTime<chrono::Utc>, serde_json::Value)>>>;

/// A webhook receiver that notes when each notification arrived; 503 while `down`.
struct Receiver {
    server: HttpServer,
    got: Heard,
    down: Arc<AtomicBool>,
}

impl Receiver {
    fn start() -> Receiver {
        let got = Arc::new(std::sync::Mutex::new(Vec::new()));
        let down = Arc::new(AtomicBool::new(false));
        let (g, d) = (got.clone(), down.clone());
        let server = HttpServer::start(move |req| {
            if d.load(Ordering::SeqCst) {
                return Reply::status(503, "down");
            }
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
            g.lock().unwrap().push((chrono::Utc::now(), body));
            Reply::status(202, "")
        });
        Receiver { server, got, down }
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

fn storm(n: usize) {
    for receiver_down in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let r = Receiver::start();
        r.down.store(receiver_down, Ordering::SeqCst);
        let closed = closed_port();
        let mut text = format!(
            "[defaults]\nevery = \"1s\"\nalert = {{ after = 1, resolve_after = 1 }}\n\n[notify.hook]\nkind = \"webhook\"\nurl = \"{}\"\nretry_first = \"1s\"\nretry_max = \"2s\"\n\n[route.critical]\nnotify = [\"hook\"]\n",
            r.server.url("/hook")
        );
        for i in 0..n {
            text.push_str(&format!("\n[[check]]\nname = \"svc-{i:05}\"\nplugin = \"tcp\"\ntarget = \"127.0.0.1:{closed}\"\n"));
        }
        let config = write_config(dir.path(), &text);
        let d = daemon(dir.path(), &config);
        let pid = d.pid();
        let cpu0 = cpu_seconds(pid);
        let label = if receiver_down { "storm, receiver down 10 s" } else { "storm" };
        if receiver_down {
            eventually(Duration::from_secs(120), "every trigger in the outbox", || {
                let m = d.get("/metrics").body;
                let pending = m
                    .lines()
                    .find_map(|l| l.strip_prefix("picket_notifications{state=\"pending\"} "))
                    .and_then(|v| v.parse::<usize>().ok());
                (pending >= Some(n)).then_some(())
            });
            std::thread::sleep(Duration::from_secs(10).saturating_sub(Duration::from_secs(0)));
            r.down.store(false, Ordering::SeqCst);
        }
        let up_at = chrono::Utc::now();
        eventually(Duration::from_secs(300), "every trigger at the receiver", || (r.got.lock().unwrap().len() >= n).then_some(()));
        let got = r.got.lock().unwrap().clone();
        let cpu = cpu_seconds(pid) - cpu0;
        let first = got.iter().map(|(t, _)| *t).min().unwrap();
        let last = got.iter().map(|(t, _)| *t).max().unwrap();
        let mut lat: Vec<f64> = got
            .iter()
            .filter_map(|(t, b)| {
                let at = chrono::DateTime::parse_from_rfc3339(b["at"].as_str()?).ok()?;
                Some((*t - at.with_timezone(&chrono::Utc)).num_microseconds()? as f64 / 1000.0)
            })
            .collect();
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let unique: std::collections::HashSet<String> = got.iter().filter_map(|(_, b)| b["dedup_key"].as_str().map(String::from)).collect();
        if receiver_down {
            let drain = (last - up_at).num_milliseconds() as f64 / 1000.0;
            row(
                &format!("{label}: backlog drained"),
                format!("{:.1} s", drain),
                &format!("{n} pending triggers, receiver back → last one received; {:.0}/s", n as f64 / drain.max(0.001)),
            );
        } else {
            let span = (last - first).num_milliseconds() as f64 / 1000.0;
            row(
                &format!("{label}: event → receiver"),
                format!("p50 {:.0} ms, p99 {:.0} ms", percentile(&lat, 0.5), percentile(&lat, 0.99)),
                &format!("{n} incidents opening within ~1 s (splay); max {:.0} ms; outbox fsync'd before each send", lat.last().unwrap()),
            );
            row(
                &format!("{label}: delivery rate"),
                format!("{:.0} /s", n as f64 / span.max(0.001)),
                &format!("first → last receipt {:.2} s", span),
            );
        }
        row(
            &format!("{label}: delivered once each"),
            format!("{}/{n} unique", unique.len()),
            &format!("{} receipts; daemon CPU {:.2} s for the whole run", got.len(), cpu),
        );
        drop(d);
    }
}
