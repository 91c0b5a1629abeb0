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

/// Builds `examples/js/<name>` (its `node_modules` installed from the lockfile) into `out`.
fn build_js(name: &str, out: &Path) -> PathBuf {
    let dir = root().join("examples/js").join(name);
    let jco = dir.join("node_modules/.bin/jco");
    assert!(jco.exists(), "{} is missing: `cargo xtask test` runs `npm install` there", jco.display());
    let wasm = out.join(format!("{name}.wasm"));
    let o = Command::new(&jco)
        .args(["componentize", "app.js", "--wit"])
        .arg(root().join("wit"))
        .args(["--world-name", "plugin", "-d", "http", "-d", "fetch-event", "-o"])
        .arg(&wasm)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(o.status.success() && wasm.exists(), "jco componentize failed:\n{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
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

#[test]
fn the_javascript_queue_depth_example_builds_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = build_js("queue-depth", dir.path());
    let stats = |waiting: u32| {
        HttpServer::start(move |_| Reply::ok(&format!(r#"{{"queues": {{"default": {{"waiting": {waiting}, "oldest_s": 42.5}}}}}}"#)))
    };
    let (calm, backlog, elsewhere) = (stats(12), stats(5000), stats(0));
    let checks = dir.path().join("checks.toml");
    let check = |name: &str, target: &str, extra: &str| {
        format!(
            "[[check]]\nname = \"{name}\"\nplugin = {}\ntarget = \"{target}\"\ndepth = \"queues.default.waiting\"\noldest = \"queues.default.oldest_s\"\nthresholds = {{ depth = {{ warn = \"100\", crit = \"1000\" }} }}\n{extra}\n",
            toml_path(&wasm)
        )
    };
    std::fs::write(
        &checks,
        [
            check("calm", &calm.url("/stats"), ""),
            check("backlog", &backlog.url("/stats"), ""),
            check("sneaky", &calm.url("/stats"), &format!("url = \"{}\"", elsewhere.url("/stats"))),
            check("missing", &calm.url("/stats"), "").replace("queues.default.waiting", "queues.urgent.waiting"),
        ]
        .concat(),
    )
    .unwrap();
    let out = picket_run(&["check", "-c", checks.to_str().unwrap(), "--format", "json"], None);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    let by = |n: &str| v["checks"].as_array().unwrap().iter().find(|c| c["name"] == n).cloned().unwrap();
    let metric = |c: &serde_json::Value, m: &str| c["metrics"].as_array().unwrap().iter().find(|x| x["name"] == m).map(|x| x["value"].as_f64().unwrap());
    let calm_r = by("calm");
    assert_eq!((calm_r["status"].as_str(), calm_r["summary"].as_str()), (Some("ok"), Some("12 jobs waiting, oldest 43s")), "{calm_r}");
    assert_eq!((metric(&calm_r, "depth"), metric(&calm_r, "oldest_age")), (Some(12.0), Some(42.5)));
    let backlog_r = by("backlog");
    assert_eq!(backlog_r["status"], "critical", "the TOML threshold decides: {backlog_r}");
    let missing = by("missing");
    assert_eq!(missing["status"], "critical");
    assert!(missing["summary"].as_str().unwrap().contains("no queues.urgent.waiting in the stats"), "{missing}");
    let sneaky = by("sneaky");
    assert_eq!(sneaky["status"], "unknown", "{sneaky}");
    assert!(sneaky["summary"].as_str().unwrap().contains("denied"), "{sneaky}");
    assert_eq!(elsewhere.count(), 0);
}
