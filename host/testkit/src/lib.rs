//! picket's test support: everything the integration tests (`tests/integration`) and the
//! benches (`host/benches`) start on loopback, and the paths they need.
//!
//! It owns:
//! - in-process servers on their own threads ([`servers`]): a scriptable HTTP/1.1 server
//!   (optionally TLS, with a throwaway CA), a TCP line responder, a silent listener;
//! - notification receivers ([`capture`]): a recording HTTP server that can be "down",
//!   and an SMTP server with STARTTLS;
//! - real server processes, private to the test process, each on a free loopback port:
//!   `redis-server` ([`redis`]), a PostgreSQL cluster ([`postgres`]), Prometheus
//!   ([`prometheus`]) and Alertmanager ([`alertmanager`]);
//! - `picket run` as a process with a minimal client for its API ([`daemon`]), and the
//!   `picket` binary itself ([`picket()`], found at run time by [`picket_bin`]);
//! - building plugin projects with the pinned toolchains ([`toolchains`]);
//! - one shared sandbox and check files in temp dirs for in-process runs (the crate root).
//!
//! It is a dev-dependency only: production code must never depend on it (it starts
//! processes, binds ports, writes temp dirs and panics on anything unexpected). Every
//! server it starts listens on 127.0.0.1 and nothing here reaches any other address.

pub mod alertmanager;
pub mod capture;
pub mod daemon;
pub mod docker;
pub mod postgres;
pub mod prometheus;
pub mod redis;
pub mod servers;
pub mod toolchains;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use picket::config;
use picket::engine::Engine;
use picket::plugin::Plugins;
use picket::result::{CheckResult, Status};
use picket::runner::Runner;
use picket::sandbox::Sandbox;

pub use servers::{HttpServer, Reply};

/// The repository's root (this crate is `host/testkit`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("host/testkit is two levels below the root").to_path_buf()
}

/// The cargo profile directory the running test or bench was built into
/// (`target/<profile>`): its executable is `target/<profile>/deps/<name>-<hash>`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the running test binary");
    let mut dir = exe.parent().expect("the test binary's directory").to_path_buf();
    if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.pop();
    }
    dir
}

/// The cargo target directory this test run builds into (the nearest ancestor of the
/// profile directory holding cargo's `CACHEDIR.TAG`).
pub fn target_dir() -> PathBuf {
    let profile = profile_dir();
    profile
        .ancestors()
        .find(|d| d.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| profile.parent().unwrap_or(&profile).to_path_buf())
}

/// The `picket` binary: `$PICKET_BIN` if set, else the one cargo built beside the running
/// test binary (`target/<profile>/picket`), as assert_cmd's `cargo_bin` finds it. Cargo
/// builds it before the `picket` package's own integration tests and benches.
pub fn picket_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("PICKET_BIN") {
        return PathBuf::from(bin);
    }
    let bin = profile_dir().join(format!("picket{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "{} is missing: build it with `cargo build -p picket`, or set PICKET_BIN", bin.display());
    bin
}

/// The compile cache every test shares, so each plugin is compiled once per test run.
pub fn cache_dir() -> PathBuf {
    target_dir().join("tmp/picket-cache")
}

/// The hostile/no-op fixture component built by host/sandbox/build.rs.
pub fn fixture() -> PathBuf {
    PathBuf::from(picket_sandbox::FIXTURE_DIR).join("fixtures.wasm")
}

/// One engine and sandbox for the whole binary: a pooling engine reserves address space,
/// and one per test would be wasteful.
pub fn plugins() -> &'static Plugins {
    static PLUGINS: OnceLock<Plugins> = OnceLock::new();
    PLUGINS.get_or_init(|| {
        let engine = Engine::new(Some(cache_dir())).expect("engine");
        Plugins::new(Arc::new(Sandbox::new(engine).expect("sandbox")))
    })
}

/// A temp dir holding `checks.toml` with `toml` in it.
pub struct CheckFile {
    pub dir: tempfile::TempDir,
}

impl CheckFile {
    pub fn new(toml: &str) -> CheckFile {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("checks.toml"), toml).expect("write checks");
        CheckFile { dir }
    }
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("checks.toml")
    }
}

/// Loads `toml` as a check file and runs every check once.
pub async fn run_toml(toml: &str) -> Vec<CheckResult> {
    let file = CheckFile::new(toml);
    let plan = config::load(&file.path(), plugins()).await.unwrap_or_else(|e| panic!("config should load:\n{e}"));
    let runner = Runner::new(plugins().clone(), 16);
    runner.run_all(&plan.checks, &|_| {}).await
}

pub fn by_name<'a>(results: &'a [CheckResult], name: &str) -> &'a CheckResult {
    results.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no result for {name}"))
}

/// Asserts a status, showing the whole result on failure.
#[track_caller]
pub fn assert_status(r: &CheckResult, status: Status) {
    assert_eq!(r.status, status, "unexpected status for {}: {r:#?}", r.name);
}

/// The `picket` binary, with the shared cache and quiet logs.
pub fn picket() -> Command {
    let mut cmd = Command::new(picket_bin());
    cmd.env("PICKET_CACHE_DIR", cache_dir()).env_remove("RUST_LOG").env_remove("APP_DB_PASSWORD").env("NO_COLOR", "1");
    cmd
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `picket` with `args` and captures everything.
pub fn picket_run(args: &[&str], cwd: Option<&Path>) -> Output {
    let mut cmd = picket();
    cmd.args(args);
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let out = cmd.output().expect("run picket");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Quotes a path for a TOML string.
pub fn toml_path(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}
