//! Project chores: `cargo xtask demo | test | bench`.
//!
//! - `demo`: set up, start local stand-ins for the seed services in `checks/`, and run
//!   `picket check` on them (the README's first command).
//! - `test`: set up (wasm target, Debian packages, pinned toolchains), run the quality
//!   gates (rustfmt, clippy, rustdoc, all with warnings denied), then the whole test suite
//!   (the README's second command, and what `.ci/run` calls). `test --fast` is the inner
//!   loop: the gates and every test that needs no server process or plugin toolchain,
//!   with nothing installed.
//! - `bench`: the benchmarks whose figures go in BENCHMARKS.md.
//! - `cycles`: no module of a host crate reaches a sibling that reaches back (crates
//!   cannot form cycles at all: cargo refuses them). Part of the gates.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::thread;

use anyhow::{Context, Result, bail};

mod cycles;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("setup") => setup().map(|_| ExitCode::SUCCESS),
        Some("cycles") => cycles::check(&root()),
        _ => {
            eprintln!("usage: cargo xtask <demo|test|bench|setup|cycles> [args...]");
            Ok(ExitCode::from(64))
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    run_quiet(cmd)
}

/// Like [`run`], without echoing the command (it may carry a password).
fn run_quiet(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// Debian packages the tests start as real servers (and the benchmark's peers).
const TEST_PACKAGES: &[&str] = &["redis-server", "postgresql", "prometheus", "prometheus-alertmanager", "docker.io", "busybox-static"];
/// Debian's C toolchain for WebAssembly, for the C plugin example and `picket plugin new --lang c`.
const C_TOOLCHAIN: &[&str] = &["clang", "lld", "wasi-libc", "libclang-rt-dev-wasm32"];
const BENCH_PACKAGES: &[&str] = &["redis-tools", "monitoring-plugins-standard", "nginx-light", "prometheus-blackbox-exporter"];

/// The newest PostgreSQL server binaries Debian installed, if any.
fn pg_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn have(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().map(|o| o.status.success()).unwrap_or(false)
}

/// Installs Debian packages that are missing (as root, or through passwordless sudo).
fn apt_install(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
                .unwrap_or(false)
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let root = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false);
    let sudo: &[&str] = if root { &[] } else { &["sudo", "-n"] };
    if !have("apt-get") {
        bail!("missing {missing:?} and no apt-get here: install them with your package manager");
    }
    let apt = |args: &[&str]| {
        let mut c = Command::new(if sudo.is_empty() { "apt-get" } else { "sudo" });
        if !sudo.is_empty() {
            c.args(["-n", "apt-get"]);
        }
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run(&mut apt(&["update", "-qq"])).context("apt-get update (are you root, or is sudo passwordless?)")?;
    let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
    install.args(&missing);
    run(&mut install)
}

/// What every command needs first: the wasm target the plugins are built for.
fn setup() -> Result<()> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output().context("rustup")?;
    if !String::from_utf8_lossy(&installed.stdout).lines().any(|l| l.trim() == "wasm32-wasip2") {
        run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))?;
    }
    // The gates' tools: a minimal rustup profile lacks them.
    for (tool, component) in [("fmt", "rustfmt"), ("clippy", "clippy")] {
        let have = Command::new(env!("CARGO")).args([tool, "--version"]).output().map(|o| o.status.success()).unwrap_or(false);
        if !have {
            run(Command::new("rustup").args(["component", "add", component]))?;
        }
    }
    // Download every crate up front: host/sandbox/build.rs builds the plugins with a nested
    // cargo that should never need the network.
    run(Command::new(env!("CARGO")).current_dir(root()).args(["fetch", "--quiet"]))?;
    Ok(())
}

/// componentize-py, pinned, for the Python plugin example (`examples/python/`).
const COMPONENTIZE_PY: &str = "0.25.1";

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

/// A venv under `target/toolchains/python` with the pinned componentize-py (the tests
/// find it there), made once.
fn python_toolchain() -> Result<()> {
    let venv = target_dir().join("toolchains").join("python");
    let bin = venv.join("bin").join("componentize-py");
    let have = Command::new(&bin).arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).contains(COMPONENTIZE_PY));
    if have.unwrap_or(false) {
        return Ok(());
    }
    if !venv.join("bin").join("pip").exists() {
        let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().map(|s| s.success()).unwrap_or(false);
        if !made {
            // Debian's own python3 keeps venv in a package of its own.
            apt_install(&["python3-venv"])?;
            run(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv)).context("python3 -m venv")?;
        }
    }
    run(Command::new(venv.join("bin").join("pip")).args(["install", "--quiet", &format!("componentize-py=={COMPONENTIZE_PY}")]))
        .context("pip install componentize-py")
}

/// The JavaScript example's pinned jco and componentize-js, from its committed lockfile.
fn js_toolchain() -> Result<()> {
    let dir = root().join("examples/js/queue-depth");
    if dir.join("node_modules/.bin/jco").exists() {
        return Ok(());
    }
    // `npm install` with the committed lockfile, not `npm ci`: npm 11 rejects this lock
    // in `ci` ("Missing: …-win32-x64-msvc@ from lock file", optional platform packages the
    // lock does resolve), while `install` honours it unchanged.
    run(Command::new("npm").args(["install", "--silent", "--no-audit", "--no-fund"]).current_dir(&dir))
        .context("npm install in examples/js/queue-depth (is Node.js installed?)")
}

/// Tests that need a server process (Redis, PostgreSQL, Prometheus, Alertmanager) or a
/// plugin toolchain (Python, Node, clang): `test --fast` skips them (`--skip` matches
/// these as substrings of the test's path).
const NEEDS_SERVERS: &[&str] = &[
    "redis::",
    "postgres::",
    "secrets::",
    "examples::",
    "authoring::",
    "daemon::prometheus_scrapes",
    "notify::a_real_alertmanager",
    "alerting::recovery_restarts_a_killed_service",
    "alerting::a_real_redis",
    "alerting::docker",
];

/// The quality gates, in the order of how fast they fail.
fn gates() -> Result<()> {
    let cargo = || {
        let mut c = Command::new(env!("CARGO"));
        c.current_dir(root());
        c
    };
    run(cargo().args(["fmt", "--all", "--check"])).context("cargo fmt: run `cargo fmt --all`")?;
    if cycles::check(&root())? != ExitCode::SUCCESS {
        bail!("module cycles (see above)");
    }
    run(cargo().args(["clippy", "--quiet", "--workspace", "--all-targets", "--", "-D", "warnings"])).context("clippy")?;
    run(cargo().args(["doc", "--quiet", "--no-deps", "--workspace"]).env("RUSTDOCFLAGS", "-D warnings")).context("rustdoc")
}

fn test(extra: &[String]) -> Result<ExitCode> {
    let fast = extra.iter().any(|a| a == "--fast");
    let extra: Vec<&String> = extra.iter().filter(|a| *a != "--fast").collect();
    setup()?;
    if !fast {
        apt_install(TEST_PACKAGES)?;
        apt_install(C_TOOLCHAIN)?;
        python_toolchain()?;
        js_toolchain()?;
    }
    gates()?;
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(root()).args(["test", "--workspace"]);
    cmd.args(extra);
    if fast {
        cmd.arg("--");
        for t in NEEDS_SERVERS {
            cmd.args(["--skip", t]);
        }
    }
    run(&mut cmd)?;
    Ok(ExitCode::SUCCESS)
}

fn bench(extra: &[String]) -> Result<ExitCode> {
    setup()?;
    apt_install(TEST_PACKAGES)?;
    apt_install(BENCH_PACKAGES)?;
    // `reload` builds the Python example (unless BENCH_RELOAD_PLUGIN names a component).
    if (extra.is_empty() || extra.iter().any(|a| a == "reload")) && std::env::var_os("BENCH_RELOAD_PLUGIN").is_none() {
        python_toolchain()?;
    }
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(root()).args(["bench", "-p", "picket", "--bench", "sandbox", "--bench", "daemon", "--"]).args(extra);
    run(&mut cmd)?;
    Ok(ExitCode::SUCCESS)
}

/// Starts stand-ins for the seed services on their ports (skipping any port already in
/// use: the real service may be running) and runs `picket check -c checks/`.
fn demo(extra: &[String]) -> Result<ExitCode> {
    setup()?;
    run(Command::new(env!("CARGO")).current_dir(root()).args(["build", "--quiet", "-p", "picket"]))?;
    for (port, name) in [(3003, "mech-queue"), (3007, "mech-storage")] {
        match TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => {
                eprintln!("xtask: stand-in {name} on http://localhost:{port}/health");
                thread::spawn(move || serve_http(l, name));
            }
            Err(_) => eprintln!("xtask: port {port} is in use; checking whatever serves it"),
        }
    }
    let _ = apt_install(TEST_PACKAGES).map_err(|e| eprintln!("xtask: {e:#}; the redis and postgres checks will fail"));
    let scratch = tempdir()?;
    let _redis = start_redis(&scratch)?;
    let _pg = start_postgres(&scratch)?;
    let status = Command::new(target_dir().join("debug").join("picket"))
        .current_dir(root())
        .args(["check", "-c", "checks"])
        .args(extra)
        .env("APP_DB_PASSWORD", DEMO_DB_PASSWORD)
        // alerting.toml's secrets: `picket check` validates the channels but sends nothing.
        .env("SLACK_WEBHOOK_URL", "http://127.0.0.1:9/demo-slack-webhook")
        .env("PAGERDUTY_ROUTING_KEY", "demo-routing-key")
        .env("PAGERDUTY_ESCALATION_KEY", "demo-escalation-key")
        .status()
        .context("run picket")?;
    Ok(ExitCode::from(status.code().unwrap_or(70) as u8))
}

/// The password the demo database's `app` user gets; the example reads APP_DB_PASSWORD.
const DEMO_DB_PASSWORD: &str = "demo-only-password";

fn tempdir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("picket-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Kills a child process and removes the demo's scratch files when dropped.
struct Service {
    stop: Box<dyn FnMut()>,
}

impl Drop for Service {
    fn drop(&mut self) {
        (self.stop)();
    }
}

/// A private redis-server on 6379 (the example's port), or the PING stand-in when Redis
/// is not installed. Nothing is started when the port is taken.
fn start_redis(scratch: &Path) -> Result<Option<Service>> {
    let Ok(listener) = TcpListener::bind(("127.0.0.1", 6379)) else {
        eprintln!("xtask: port 6379 is in use; checking whatever serves it");
        return Ok(None);
    };
    if !have("redis-server") {
        eprintln!("xtask: stand-in redis-temp (answers PING) on localhost:6379");
        thread::spawn(move || serve_pong(listener));
        return Ok(None);
    }
    drop(listener);
    let mut child = Command::new("redis-server")
        .args(["--port", "6379", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir"])
        .arg(scratch)
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("start redis-server")?;
    wait_port(6379)?;
    eprintln!("xtask: redis-server on localhost:6379");
    Ok(Some(Service {
        stop: Box::new(move || {
            let _ = child.kill();
            let _ = child.wait();
        }),
    }))
}

/// A private PostgreSQL cluster on 5432 with the example's `app` user and database.
fn start_postgres(scratch: &Path) -> Result<Option<Service>> {
    if TcpListener::bind(("127.0.0.1", 5432)).is_err() {
        eprintln!("xtask: port 5432 is in use; checking whatever serves it");
        return Ok(None);
    }
    let Some(bin) = pg_bin() else {
        eprintln!("xtask: PostgreSQL is not installed; the app-db checks will fail");
        return Ok(None);
    };
    let root = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false);
    // PostgreSQL refuses to run as root: run it as the `postgres` user Debian created.
    let as_pg = |program: &Path| {
        if root {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    };
    let dir = scratch.join("pg");
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    if root {
        run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir))?;
        run(Command::new("chmod").arg("755").arg(scratch))?;
    }
    let quiet = |mut c: Command| {
        c.stdout(std::process::Stdio::null());
        c
    };
    let mut initdb = quiet(as_pg(&bin.join("initdb")));
    initdb.arg("-D").arg(&data).args(["-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8"]);
    run_quiet(&mut initdb).context("initdb")?;
    let conf = format!("port = 5432\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\n", dir.display());
    std::fs::OpenOptions::new().append(true).open(data.join("postgresql.conf"))?.write_all(conf.as_bytes())?;
    let mut start = quiet(as_pg(&bin.join("pg_ctl")));
    start.arg("-D").arg(&data).arg("-l").arg(dir.join("server.log")).args(["-w", "start"]);
    run_quiet(&mut start).context("pg_ctl start")?;
    let mut psql = quiet(as_pg(Path::new("/usr/bin/psql")));
    psql.arg("-h")
        .arg(&dir)
        .args(["-U", "postgres", "-d", "postgres", "-qc"])
        .arg(format!("CREATE ROLE app LOGIN PASSWORD '{DEMO_DB_PASSWORD}'; GRANT pg_monitor TO app;"));
    run_quiet(&mut psql).context("create the demo's app user")?;
    let mut createdb = quiet(as_pg(Path::new("/usr/bin/psql")));
    createdb.arg("-h").arg(&dir).args(["-U", "postgres", "-d", "postgres", "-qc", "CREATE DATABASE app OWNER app"]);
    run_quiet(&mut createdb).context("create the demo's app database")?;
    eprintln!("xtask: PostgreSQL on localhost:5432 (user app, database app)");
    let mut stop = as_pg(&bin.join("pg_ctl"));
    stop.arg("-D").arg(&data).args(["-m", "fast", "stop"]).stdout(std::process::Stdio::null());
    let scratch = scratch.to_path_buf();
    Ok(Some(Service {
        stop: Box::new(move || {
            let _ = stop.status();
            let _ = std::fs::remove_dir_all(&scratch);
        }),
    }))
}

fn wait_port(port: u16) -> Result<()> {
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        thread::sleep(std::time::Duration::from_millis(25));
    }
    bail!("nothing listening on port {port} after 5s")
}

fn serve_http(listener: TcpListener, name: &'static str) {
    for conn in listener.incoming().flatten() {
        thread::spawn(move || {
            let mut reader = BufReader::new(&conn);
            let mut line = String::new();
            // Read the request head; the body (if any) is ignored.
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if line == "\r\n" || line == "\n" {
                    break;
                }
                line.clear();
            }
            let body = format!("{{\"status\":\"healthy\",\"service\":\"{name}\"}}");
            let mut conn = &conn;
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        });
    }
}

fn serve_pong(listener: TcpListener) {
    for conn in listener.incoming().flatten() {
        thread::spawn(move || pong(conn));
    }
}

fn pong(mut conn: TcpStream) {
    let mut buf = [0u8; 512];
    while let Ok(n) = conn.read(&mut buf) {
        if n == 0 || conn.write_all(b"+PONG\r\n").is_err() {
            break;
        }
    }
}
