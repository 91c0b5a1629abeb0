//! Building plugin projects in tests with `picket plugin build`, using the toolchains
//! `cargo xtask test` installs (componentize-py under target/toolchains, the JavaScript
//! example's node_modules; clang from Debian).

use std::path::{Path, PathBuf};

use super::{picket, target_dir};

/// `picket plugin build DIR -o OUT`, with the toolchains `cargo xtask test` installed
/// (componentize-py in target/toolchains, the JS example's node_modules) on hand.
pub fn build(dir: &Path, out: &Path) -> PathBuf {
    let wasm = out.join(format!("{}.wasm", dir.file_name().unwrap().to_string_lossy()));
    let o = build_command(dir, &wasm).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success() && wasm.exists(), "picket plugin build {} failed:\n{stdout}{stderr}", dir.display());
    assert!(stdout.starts_with(&format!("built {}", wasm.display())), "{stdout}");
    wasm
}

/// The `picket plugin build DIR -o WASM` command, not yet run. Rust projects share one
/// target dir under target/tmp, so their dependencies compile once.
pub fn build_command(dir: &Path, wasm: &Path) -> std::process::Command {
    let mut cmd = picket();
    cmd.args(["plugin", "build"]).arg(dir).arg("-o").arg(wasm);
    cmd.env("PATH", toolchain_path()).env("CARGO_TARGET_DIR", target_dir().join("tmp/plugin-projects"));
    cmd
}

/// PATH with the Python toolchain `cargo xtask test` installs in front.
pub fn toolchain_path() -> std::ffi::OsString {
    let python = target_dir().join("toolchains/python/bin");
    assert!(python.join("componentize-py").exists(), "{} is missing: `cargo xtask test` installs componentize-py there", python.display());
    let mut dirs = vec![python];
    dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(dirs).unwrap()
}

/// `picket check -c FILE --format json`, parsed.
pub struct CheckRun {
    pub code: i32,
    pub json: serde_json::Value,
}

impl CheckRun {
    pub fn of(file: &Path) -> CheckRun {
        let out = super::picket_run(&["check", "-c", file.to_str().unwrap(), "--format", "json"], None);
        let json = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
        CheckRun { code: out.code, json }
    }

    /// One check's result, by name.
    pub fn by(&self, name: &str) -> serde_json::Value {
        self.json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {}", self.json))
    }
}

/// A metric's value in one check's result.
pub fn metric(result: &serde_json::Value, name: &str) -> Option<f64> {
    result["metrics"].as_array().unwrap().iter().find(|x| x["name"] == name).map(|x| x["value"].as_f64().unwrap())
}
