//! The plugin examples under `examples/`, built from source with their pinned toolchains
//! (installed by `cargo xtask test`) and run through the real `picket` binary against
//! local servers: an ok outcome, a failing one, and a host the check did not grant.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::servers::{HttpServer, Reply};
use crate::support::{picket_run, toml_path};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

/// Builds `examples/python/<name>` into `out`, returning the component's path.
fn build_python(name: &str, out: &Path) -> PathBuf {
    let tool = target_dir().join("toolchains/python/bin/componentize-py");
    assert!(tool.exists(), "{} is missing: `cargo xtask test` installs componentize-py there", tool.display());
    let wasm = out.join(format!("{name}.wasm"));
    let o = Command::new(&tool)
        .arg("-d")
        .arg(root().join("wit"))
        .args(["-w", "plugin", "componentize", "app", "-p"])
        .arg(root().join("examples/python").join(name))
        .arg("-o")
        .arg(&wasm)
        .output()
        .unwrap();
    assert!(o.status.success(), "componentize-py failed:\n{}", String::from_utf8_lossy(&o.stderr));
    wasm
}

/// A feed whose `updated_at` is `age_s` seconds old at each request.
fn feed(age_s: i64) -> HttpServer {
    HttpServer::start(move |_| {
        let t = chrono::Utc::now() - chrono::Duration::seconds(age_s);
        Reply::ok(&format!(r#"{{"items": 3, "meta": {{"updated_at": "{}"}}}}"#, t.to_rfc3339()))
    })
}

#[test]
fn the_python_freshness_example_builds_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = build_python("freshness", dir.path());
    let (fresh, stale, elsewhere) = (feed(30), feed(3600), feed(0));
    let checks = dir.path().join("checks.toml");
    std::fs::write(
        &checks,
        format!(
            r#"
[defaults]
timeout = "10s"

[[check]]
name = "fresh"
plugin = {wasm}
target = "{fresh}"
max_age = "10m"
field = "meta.updated_at"
thresholds = {{ age = {{ warn = "5m" }} }}

[[check]]
name = "stale"
plugin = {wasm}
target = "{stale}"
max_age = "10m"
field = "meta.updated_at"

[[check]]
name = "sneaky"
plugin = {wasm}
target = "{fresh}"
url = "{elsewhere}"
max_age = "10m"
field = "meta.updated_at"
"#,
            wasm = toml_path(&wasm),
            fresh = fresh.url("/feed"),
            stale = stale.url("/feed"),
            elsewhere = elsewhere.url("/feed"),
        ),
    )
    .unwrap();
    let out = picket_run(&["check", "-c", checks.to_str().unwrap(), "--format", "json"], None);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    let by = |n: &str| v["checks"].as_array().unwrap().iter().find(|c| c["name"] == n).cloned().unwrap();
    let fresh_r = by("fresh");
    assert_eq!(fresh_r["status"], "ok", "{fresh_r}");
    let age = fresh_r["metrics"].as_array().unwrap().iter().find(|m| m["name"] == "age").unwrap()["value"].as_f64().unwrap();
    assert!((29.0..60.0).contains(&age), "{fresh_r}");
    let stale_r = by("stale");
    assert_eq!(stale_r["status"], "critical", "{stale_r}");
    assert!(stale_r["summary"].as_str().unwrap().starts_with("meta.updated_at is 36"), "{stale_r}");
    // The plugin tried a host the check did not grant: refused before any I/O, reported.
    let sneaky = by("sneaky");
    assert_eq!(sneaky["status"], "unknown", "{sneaky}");
    assert!(sneaky["summary"].as_str().unwrap().contains("denied"), "{sneaky}");
    assert_eq!(elsewhere.count(), 0);
    assert_eq!(out.code, 2, "a critical result: {}", out.stderr);
}
