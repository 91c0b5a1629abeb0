//! Plugin authoring end to end: `picket plugin new` for each language, built with
//! `picket plugin build` and run by `picket check` against a local server; and the
//! validation errors a plugin built for something else gets, with components made the
//! way an author would make them.

use std::path::{Path, PathBuf};

use picket_testkit::servers::{HttpServer, Reply};
use picket_testkit::toolchains::{CheckRun, build, build_command};
use picket_testkit::{picket_run, toml_path};

/// `picket plugin new NAME --lang LANG --dir PARENT/NAME`.
fn scaffold(parent: &Path, name: &str, lang: &str) -> PathBuf {
    let dir = parent.join(name);
    let out = picket_run(&["plugin", "new", name, "--lang", lang, "--dir", dir.to_str().unwrap()], None);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("picket plugin build"), "{}", out.stdout);
    dir
}

/// A new project's sample check: ok against a 200 with the text, critical against a 500.
fn scaffold_builds_and_checks(lang: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let name = format!("sample-{lang}");
    let dir = scaffold(tmp.path(), &name, lang);
    let wasm = build(&dir, &dir);
    assert_eq!(wasm, dir.join(format!("{name}.wasm")));
    let up = HttpServer::start(|_| Reply::ok("all systems go"));
    let down = HttpServer::start(|_| Reply::status(500, "boom"));
    // The project's own checks.toml, pointed at the local servers.
    let checks = std::fs::read_to_string(dir.join("checks.toml")).unwrap();
    let checks = checks.replace("http://localhost:8080/health", &up.url("/health"))
        + &format!("\n[[check]]\nname = \"down\"\nplugin = \"{name}.wasm\"\ntarget = \"{}\"\ncontains = \"go\"\n", down.url("/"));
    std::fs::write(dir.join("checks.toml"), checks).unwrap();
    let run = CheckRun::of(&dir.join("checks.toml"));
    let by = |n: &str| run.by(n);
    let ok = by(&name);
    assert_eq!(ok["status"], "ok", "{ok}");
    assert!(ok["summary"].as_str().unwrap().starts_with("HTTP 200 in "), "{ok}");
    assert!(ok["metrics"][0]["name"] == "response_time" && ok["metrics"][0]["value"].as_f64().unwrap() < 2.0, "{ok}");
    let bad = by("down");
    assert_eq!((bad["status"].as_str(), bad["summary"].as_str()), (Some("critical"), Some("HTTP 500, expected 200")), "{bad}");
    assert_eq!(bad["diagnostics"], "boom");
    assert_eq!(up.count(), 1);
}

#[test]
fn a_new_rust_plugin_builds_and_checks() {
    scaffold_builds_and_checks("rust");
}

#[test]
fn a_new_python_plugin_builds_and_checks() {
    scaffold_builds_and_checks("python");
}

#[test]
fn a_new_javascript_plugin_builds_and_checks() {
    scaffold_builds_and_checks("js");
}

#[test]
fn a_new_c_plugin_builds_and_checks() {
    scaffold_builds_and_checks("c");
}

#[test]
fn plugin_new_refuses_a_bad_name_and_an_occupied_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = picket_run(&["plugin", "new", "My Check", "--lang", "c"], Some(tmp.path()));
    assert_eq!(out.code, 64, "{}", out.stderr);
    assert!(out.stderr.contains("is not a plugin name"), "{}", out.stderr);
    std::fs::create_dir(tmp.path().join("taken")).unwrap();
    std::fs::write(tmp.path().join("taken/notes.txt"), "mine").unwrap();
    let out = picket_run(&["plugin", "new", "taken", "--lang", "python"], Some(tmp.path()));
    assert_eq!(out.code, 64);
    assert!(out.stderr.contains("taken: already exists and is not empty"), "{}", out.stderr);
    assert_eq!(std::fs::read_dir(tmp.path().join("taken")).unwrap().count(), 1, "nothing written");
    let out = picket_run(&["plugin", "build"], Some(tmp.path()));
    assert_eq!(out.code, 78);
    assert!(out.stderr.contains("no Cargo.toml, package.json, app.py or .c file here"), "{}", out.stderr);
}

/// A C project whose contract is `wit` and whose source is `c`, built; returns the
/// output of `picket plugin build` (which loads what it built) and the component.
fn c_component(dir: &Path, wit: &str, c: &str) -> (picket_testkit::Output, PathBuf) {
    std::fs::create_dir_all(dir.join("wit")).unwrap();
    std::fs::write(dir.join("wit/plugin.wit"), wit).unwrap();
    std::fs::write(dir.join("check.c"), c).unwrap();
    let wasm = dir.join("out.wasm");
    let o = build_command(dir, &wasm).output().unwrap();
    let out = picket_testkit::Output {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    };
    assert!(wasm.exists(), "the component itself builds: {}", out.stderr);
    (out, wasm)
}

const WIT: &str = include_str!("../../wit/plugin.wit");

/// `picket validate` (exit 78, the problem at the check's file and line) and `picket
/// check` (the check reported `unknown` with the same words, the others still run) on a
/// one-check file using `wasm`, with an optional sha256 pin.
fn refused(dir: &Path, wasm: &Path, pin: Option<&str>) -> String {
    let pin = pin.map(|p| format!("sha256 = \"{p}\"\n")).unwrap_or_default();
    let file = dir.join("checks.toml");
    std::fs::write(&file, format!("\n[[check]]\nname = \"custom\"\nplugin = {}\ntarget = \"http://127.0.0.1:9/\"\n{pin}", toml_path(wasm)))
        .unwrap();
    let validate = picket_run(&["validate", "-c", file.to_str().unwrap()], None);
    assert_eq!(validate.code, 78, "{}{}", validate.stdout, validate.stderr);
    let prefix = format!("{}:2:1: check \"custom\", field `plugin`: ", file.display());
    assert!(validate.stderr.starts_with(&prefix), "{}", validate.stderr);
    let check = picket_run(&["check", "-c", file.to_str().unwrap(), "--format", "json"], None);
    assert_eq!(check.code, 3, "{}{}", check.stdout, check.stderr);
    let v: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    assert_eq!(v["checks"][0]["status"], "unknown");
    let summary = v["checks"][0]["summary"].as_str().unwrap().to_string();
    assert!(validate.stderr.contains(&summary), "{summary} / {}", validate.stderr);
    summary
}

/// A plugin as it was built for an older contract (`contract-0.1.0.wit` and
/// `contract-0.2.0.wit` are those releases' `wit/plugin.wit`): `describe` with nothing
/// declared, `check` returning ok. Only the names both contracts share are used.
fn old_plugin(version: &str) -> String {
    r#"#include <string.h>
#include "plugin.h"

void exports_picket_plugin_check_describe(exports_picket_plugin_check_info_t *ret) {
  memset(ret, 0, sizeof *ret);
  plugin_string_dup(&ret->name, "old");
  plugin_string_dup(&ret->version, "VERSION");
  plugin_string_dup(&ret->description, "built for contract VERSION");
}

void exports_picket_plugin_check_check(exports_picket_plugin_check_config_t *config, exports_picket_plugin_check_report_t *ret) {
  memset(ret, 0, sizeof *ret);
  ret->status = PICKET_PLUGIN_TYPES_STATUS_OK;
  plugin_string_dup(&ret->summary, "fine");
  exports_picket_plugin_check_config_free(config);
}
"#
    .replace("VERSION", version)
}

/// A plugin built against `wit` (contract `version`, e.g. "0.1.0") fails `picket plugin
/// build`, `picket validate` and `picket check` with what to do.
fn an_older_contract_is_refused_with_what_to_do(wit: &str, version: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (out, wasm) = c_component(tmp.path(), wit, &old_plugin(version));
    assert_eq!(out.code, 78, "{}", out.stdout);
    let minor = &version[..version.rfind('.').unwrap()];
    let why = format!("built for plugin contract {minor}, which this picket no longer runs");
    assert!(
        out.stderr.contains(&format!("it exports picket:plugin/check@{version}, {why}; rebuild it against this picket's wit/ (0.3.x)")),
        "{}",
        out.stderr
    );
    assert!(refused(tmp.path(), &wasm, None).contains(&why));
}

#[test]
fn a_plugin_built_for_contract_0_1_is_refused_with_what_to_do() {
    an_older_contract_is_refused_with_what_to_do(include_str!("contract-0.1.0.wit"), "0.1.0");
}

/// 0.3.0 added param shapes and metric conditions to `describe`'s records, so a 0.2
/// plugin's answer cannot be read: it is refused by name, not misread.
#[test]
fn a_plugin_built_for_contract_0_2_is_refused_with_what_to_do() {
    an_older_contract_is_refused_with_what_to_do(include_str!("contract-0.2.0.wit"), "0.2.0");
}

#[test]
fn a_plugin_for_a_newer_contract_version_is_refused_with_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(picket_testkit::root().join("examples/c/smtp/smtp.c")).unwrap();
    let (out, wasm) = c_component(tmp.path(), &WIT.replace("package picket:plugin@0.3.0;", "package picket:plugin@0.4.0;"), &src);
    assert_eq!(out.code, 78, "{}", out.stdout);
    assert!(
        out.stderr.contains(
            "it exports picket:plugin/check@0.4.0, built for plugin contract 0.4, newer than this picket's (0.3.x); \
             run it with a newer picket, or rebuild it against this picket's wit/"
        ),
        "{}",
        out.stderr
    );
    assert!(refused(tmp.path(), &wasm, None).contains("newer than this picket's (0.3.x)"));
}

#[test]
fn a_component_without_the_check_export_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let wit = "package picket:plugin@0.3.0;\ninterface log { log: func(message: string); }\nworld plugin { import log; export answer: func() -> u32; }\n";
    let (out, wasm) = c_component(tmp.path(), wit, "#include \"plugin.h\"\nuint32_t exports_plugin_answer(void) { return 42; }\n");
    assert_eq!(out.code, 78);
    assert!(
        out.stderr.contains("not a plugin picket can run") && out.stderr.contains("picket:plugin/check@0.3.0: it exports only answer"),
        "{}",
        out.stderr
    );
    assert!(refused(tmp.path(), &wasm, None).contains("it exports only answer"));
}

#[test]
fn a_component_importing_what_picket_does_not_provide_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    // The real contract plus a `dns` capability picket has never had.
    let wit = WIT.replace(
        "world plugin {",
        "interface dns {\n    resolve: func(name: string) -> list<string>;\n}\n\nworld plugin {\n    import dns;",
    );
    let src = std::fs::read_to_string(picket_testkit::root().join("host/author/src/templates/c/check.c"))
        .unwrap()
        .replace("{{name}}", "resolver")
        .replace("  char *params = pk_cstr(&config->params);", "  plugin_list_string_t addrs;\n  picket_plugin_dns_resolve(&config->target, &addrs);\n  char *params = pk_cstr(&config->params);");
    let (out, wasm) = c_component(tmp.path(), &wit, &src);
    assert_eq!(out.code, 78, "{}", out.stdout);
    assert!(out.stderr.contains("picket:plugin/dns@0.3.0"), "{}", out.stderr);
    assert!(out.stderr.contains("picket provides picket:plugin/{log,clock,tcp,http,disk}@0.3.0 and WASI 0.2 (deny-all)"), "{}", out.stderr);
    assert!(refused(tmp.path(), &wasm, None).contains("picket:plugin/dns@0.3.0"));
}

#[test]
fn a_sha256_pin_that_does_not_match_is_refused_naming_both_hashes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = scaffold(tmp.path(), "pinned", "c");
    let wasm = build(&dir, &dir);
    let good = picket_run(&["plugin", "inspect", wasm.to_str().unwrap(), "--format", "json"], None);
    let sha = serde_json::from_str::<serde_json::Value>(&good.stdout).unwrap()["sha256"].as_str().unwrap().to_string();
    let wrong = "0".repeat(64);
    let why = refused(tmp.path(), &wasm, Some(&wrong));
    assert!(why.contains(&format!("expected {wrong}, file has {sha}")) && why.contains("pin the new sha256"), "{why}");
    std::fs::write(
        tmp.path().join("checks.toml"),
        format!("[[check]]\nname = \"custom\"\nplugin = {}\ntarget = \"http://127.0.0.1:9/\"\nsha256 = \"{sha}\"\n", toml_path(&wasm)),
    )
    .unwrap();
    let ok = picket_run(&["validate", "-c", tmp.path().join("checks.toml").to_str().unwrap()], None);
    assert_eq!(ok.code, 0, "the right pin loads: {}", ok.stderr);
}
