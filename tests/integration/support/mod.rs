//! Shared helpers: one sandbox for the whole test binary, check files in temp dirs,
//! the `picket` binary with a shared compile cache, and loopback servers.

pub mod alertmanager;
pub mod capture;
pub mod daemon;
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

/// The compile cache every test shares, so each plugin is compiled once per test run.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("picket-cache")
}

/// The hostile/no-op fixture component built by host/sandbox/build.rs.
pub fn fixture() -> PathBuf {
    PathBuf::from(picket::sandbox::FIXTURE_DIR).join("fixtures.wasm")
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
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_picket"));
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
