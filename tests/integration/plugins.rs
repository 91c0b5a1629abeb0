//! `picket plugin inspect`, sha256 pins, and components that are not picket plugins.

use picket::result::{Failure, Status};

use picket_testkit::{CheckFile, assert_status, fixture, picket_run, run_toml, toml_path};

#[test]
fn inspect_a_builtin_shows_params_metrics_and_grants() {
    let out = picket_run(&["plugin", "inspect", "http"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("http 0.1.0 — One HTTP(S) request"), "{}", out.stdout);
    assert!(out.stdout.contains("exports  picket:plugin/check@0.3.0"));
    assert!(out.stdout.contains("picket:plugin/http@0.3.0"));
    assert!(out.stdout.contains("target = \"http(s)://host:port/...\""));
    assert!(
        out.stdout.contains("targets\n  URL: http:// (port 80), https:// (port 443); e.g. \"http://localhost:8080/health\"\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("  follow_redirects   bool      optional"), "{}", out.stdout);
    // The inside of a shaped param, and a metric's condition.
    assert!(
        out.stdout.contains(
            "    expect.status    integer|string|list optional  200, [200, 204], \"2xx\" or \"200-399\" (default 2xx) \
             (a string: a status class (\"2xx\") or range (\"200-399\"))\n"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("    expect.json.*    any                 any other key\n"), "{}", out.stdout);
    assert!(out.stdout.contains("    headers.*        string              any other key\n"), "{}", out.stdout);
    assert!(out.stdout.contains("(https only) (lower is worse); reported only for https targets\n"), "{}", out.stdout);
    assert!(out.stdout.contains("cert_expires_days  days"));
    assert!(out.stdout.contains("(lower is worse)"));
}

#[test]
fn inspect_shows_a_declared_forecast_and_target() {
    let out = picket_run(&["plugin", "inspect", "disk"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("  days_until_full    days   when `used` reaches 100%, from its 7-day trend\n"), "{}", out.stdout);
    assert!(out.stdout.contains("targets\n  an absolute path\n"), "{}", out.stdout);
    let out = picket_run(&["plugin", "inspect", "postgres", "--format", "json"], None);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["info"]["targets"][0]["form"], "url");
    assert_eq!(v["info"]["targets"][0]["user_required"], true);
    assert_eq!(v["info"]["targets"][0]["schemes"][0], serde_json::json!({ "name": "postgres", "default_port": 5432 }));
    assert_eq!(
        v["info"]["params"][0],
        serde_json::json!({ "name": "password", "kind": "secret", "required": false, "description": "password: { env = \"VAR\" } or { file = \"path\" }" })
    );
}

#[test]
fn inspect_json_lists_imports_and_needed_grants() {
    let path = fixture();
    let out = picket_run(&["plugin", "inspect", path.to_str().unwrap(), "--format", "json"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["info"]["name"], "fixture");
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
    let imports: Vec<&str> = v["imports"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
    assert!(imports.contains(&"picket:plugin/tcp@0.3.0"), "{imports:?}");
    assert_eq!(v["info"]["params"][0]["kind"], "string");
    assert_eq!(v["info"]["targets"], serde_json::json!([]), "the fixture takes any target");
    assert_eq!(v["grants_needed"].as_array().unwrap().len(), 3, "tcp, http and disk");
}

fn empty_component() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.wasm");
    std::fs::write(&path, wat::parse_str("(component)").unwrap()).unwrap();
    (dir, path)
}

#[test]
fn a_component_without_the_check_export_is_refused_with_advice() {
    let (_dir, path) = empty_component();
    let out = picket_run(&["plugin", "inspect", path.to_str().unwrap()], None);
    assert_eq!(out.code, 78);
    assert!(
        out.stderr.contains("plugin does not export picket:plugin/check@0.3.0: it exports nothing; is it a picket plugin"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_with_a_non_plugin_reports_missing_export() {
    let (_dir, path) = empty_component();
    let results = run_toml(&format!("[[check]]\nname = \"x\"\nplugin = {}\ntarget = \"/\"\n", toml_path(&path))).await;
    assert_status(&results[0], Status::Unknown);
    assert!(matches!(results[0].failure, Some(Failure::MissingExport(_))), "{:#?}", results[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sha256_mismatch_is_a_result_and_a_validate_error() {
    let wrong = "0".repeat(64);
    let toml =
        format!("[[check]]\nname = \"pinned\"\nplugin = {}\nsha256 = \"{wrong}\"\ntarget = \"/\"\nmode = \"ok\"\n", toml_path(&fixture()));
    let results = run_toml(&toml).await;
    assert_status(&results[0], Status::Unknown);
    let Some(Failure::HashMismatch { expected, actual }) = &results[0].failure else { panic!("{:#?}", results[0]) };
    assert_eq!(expected, &wrong);
    assert_eq!(actual.len(), 64);

    let file = CheckFile::new(&toml);
    let out = picket_run(&["validate", "-c", file.path().to_str().unwrap()], None);
    assert_eq!(out.code, 78);
    assert!(
        out.stderr.contains("checks.toml:1:1: check \"pinned\", field `plugin`: plugin sha256 mismatch: expected 0000"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_sha256_pin_runs() {
    let sha = picket::engine::sha256_hex(&std::fs::read(fixture()).unwrap());
    let toml =
        format!("[[check]]\nname = \"pinned\"\nplugin = {}\nsha256 = \"{sha}\"\ntarget = \"/\"\nmode = \"ok\"\n", toml_path(&fixture()));
    assert_status(&run_toml(&toml).await[0], Status::Ok);
}

#[test]
fn precompile_fills_the_cache_for_both_engines_and_refuses_non_plugins() {
    let cache = tempfile::tempdir().unwrap();
    let fixture = fixture();
    let dir = cache.path().to_str().unwrap();
    let out = picket_run(&["plugin", "precompile", fixture.to_str().unwrap(), "--cache-dir", dir], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(lines[0].contains("ready for picket check in ") && lines[1].contains("ready for picket run in "), "{}", out.stdout);
    // One artifact per engine configuration (`check` maps memory images, `run` copies them).
    let sha = picket::engine::sha256_hex(&std::fs::read(&fixture).unwrap());
    let engines: Vec<_> = std::fs::read_dir(cache.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(engines.len(), 2, "{engines:?}");
    for e in &engines {
        assert!(e.join(format!("{sha}.cwasm")).exists(), "{}", e.display());
    }
    let (_empty_dir, empty) = empty_component();
    let out = picket_run(&["plugin", "precompile", empty.to_str().unwrap(), "--cache-dir", dir], None);
    assert_eq!(out.code, 78);
    assert!(out.stderr.contains("does not export picket:plugin/check@0.3.0"), "{}", out.stderr);
}
