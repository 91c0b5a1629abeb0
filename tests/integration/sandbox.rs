//! Hostile plugins: each is contained, reported with the right reason, and a normal check
//! in the same run (and in a run right after) still succeeds.

use std::sync::atomic::Ordering;

use picket::result::{Failure, Status};

use picket_testkit::{CheckFile, HttpServer, Reply, assert_status, by_name, fixture, picket, run_toml, toml_path};

fn hostile(name: &str, mode: &str, extra: &str) -> String {
    format!("[[check]]\nname = {name:?}\nplugin = {}\ntarget = \"127.0.0.1:9\"\nmode = {mode:?}\n{extra}\n", toml_path(&fixture()))
}

fn with_normal(hostile_checks: &str) -> String {
    format!("{hostile_checks}\n{}", hostile("normal", "ok", ""))
}

/// A normal check still works after the hostile one (fresh store, same engine).
async fn normal_still_runs() {
    let results = run_toml(&hostile("after", "ok", "")).await;
    assert_status(&results[0], Status::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_plugin_times_out_without_starving_others() {
    let results = run_toml(&with_normal(&hostile("spin", "spin", "timeout = \"500ms\""))).await;
    let spin = by_name(&results, "spin");
    assert_status(spin, Status::Critical);
    assert!(matches!(spin.failure, Some(Failure::Timeout(_))), "{spin:#?}");
    assert_eq!(spin.summary, "timed out after 500ms");
    let normal = by_name(&results, "normal");
    assert_status(normal, Status::Ok);
    // Not a performance assertion: the epoch callback yields, so the normal check is not
    // stuck behind the spinning one for its whole timeout.
    assert!(normal.duration < spin.duration, "normal {:?} vs spin {:?}", normal.duration, spin.duration);
    normal_still_runs().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_allocating_forever_hits_the_memory_cap() {
    let results = run_toml(&with_normal(&hostile("alloc", "alloc", "memory = \"16MiB\""))).await;
    let alloc = by_name(&results, "alloc");
    assert_status(alloc, Status::Unknown);
    assert_eq!(alloc.failure, Some(Failure::MemoryLimit(16 << 20)), "{alloc:#?}");
    assert!(alloc.summary.starts_with("memory limit hit"), "{}", alloc.summary);
    assert_status(by_name(&results, "normal"), Status::Ok);
    normal_still_runs().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_plugin_is_reported_with_its_panic_message() {
    let results = run_toml(&with_normal(&hostile("trap", "trap", ""))).await;
    let trap = by_name(&results, "trap");
    assert_status(trap, Status::Unknown);
    let Some(Failure::Trap(detail)) = &trap.failure else { panic!("{trap:#?}") };
    assert!(detail.contains("fixture trap requested"), "{detail}");
    assert!(trap.diagnostics.as_deref().unwrap_or("").contains("panicked at"), "{trap:#?}");
    assert_status(by_name(&results, "normal"), Status::Ok);
    normal_still_runs().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_summary_hits_the_output_cap() {
    let results = run_toml(&with_normal(&hostile("huge", "huge", "output = \"64KiB\""))).await;
    let huge = by_name(&results, "huge");
    assert_status(huge, Status::Unknown);
    let Some(Failure::OutputLimit(detail)) = &huge.failure else { panic!("{huge:#?}") };
    assert!(detail.contains("10.5 MB") && detail.contains("65.5 KB"), "{detail}");
    assert!(huge.diagnostics.as_ref().unwrap().len() < 1024, "diagnostics are capped too");
    assert_status(by_name(&results, "normal"), Status::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_a_host_not_granted_is_denied_and_never_reaches_it() {
    let (addr, accepted) = picket_testkit::servers::silent_listener();
    let extra = format!("host = \"127.0.0.1\"\nport = {}", addr.port());
    let results = run_toml(&with_normal(&hostile("net", "net", &extra))).await;
    let net = by_name(&results, "net");
    assert_status(net, Status::Unknown);
    assert_eq!(net.failure, Some(Failure::Denied(format!("tcp connect to 127.0.0.1:{}", addr.port()))));
    // The plugin claimed success; the host's verdict stands and the claim is kept.
    assert!(net.diagnostics.as_deref().unwrap().contains("connect failed as expected"), "{net:#?}");
    assert_eq!(accepted.load(Ordering::Relaxed), 0, "the listener must never see a connection");
    assert_status(by_name(&results, "normal"), Status::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_request_to_a_host_not_granted_is_denied() {
    let server = HttpServer::start(|_| Reply::ok("secret"));
    let extra = format!("host = \"{}\"", server.addr);
    let results = run_toml(&hostile("http", "http", &extra)).await;
    let r = &results[0];
    assert_status(r, Status::Unknown);
    assert_eq!(r.failure, Some(Failure::Denied(format!("http request to http://{}/", server.addr))));
    assert_eq!(server.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_path_not_granted_is_denied_and_wasi_has_no_files() {
    let results = run_toml(&hostile("fs", "fs", "path = \"/etc/passwd\"")).await;
    let r = &results[0];
    assert_status(r, Status::Unknown);
    assert_eq!(r.failure, Some(Failure::Denied("disk stat of /etc/passwd".into())));
    let diag = r.diagnostics.as_deref().unwrap();
    // std::fs inside the guest finds no preopened directory to resolve the path against.
    assert!(diag.contains("read: Err("), "{diag}");
    assert!(!diag.contains("root:"), "the file's contents must not leak: {diag}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guest_sees_no_environment_args_or_cwd() {
    assert!(std::env::vars().any(|(k, _)| k == "PATH"), "the host itself has an environment");
    let results = run_toml(&hostile("env", "env", "")).await;
    let r = &results[0];
    assert_status(r, Status::Ok);
    assert!(r.summary.starts_with("vars=0 args=0"), "{}", r.summary);
    assert!(!r.summary.contains("PATH"));
}

/// Lines one run may log through the `log` capability (`MAX_LOG_LINES` in
/// host/sandbox/src/log.rs); the fixture's `log-flood` mode logs 100,000.
const LOG_CAP: u64 = 200;
const FLOOD: u64 = 100_000;

#[test]
fn a_log_flood_is_capped_and_the_check_completes() {
    // Through the binary, so the host's own log can be read without installing a global
    // subscriber in this test process.
    let file = CheckFile::new(&hostile("flood", "log-flood", ""));
    let out = picket()
        .args(["check", "-c", file.path().to_str().unwrap(), "--format", "json"])
        .env("RUST_LOG", "picket_sandbox=info")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!((doc["checks"][0]["status"].as_str(), doc["checks"][0]["summary"].as_str()), (Some("ok"), Some("flooded")), "{doc}");
    // The first LOG_CAP lines reach the host's log, in order, and not one more.
    let logged: Vec<u64> =
        stderr.lines().filter_map(|l| l.split_once("flood line ")?.1.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()).collect();
    assert_eq!(logged, (0..LOG_CAP).collect::<Vec<_>>(), "{stderr}");
    // The rest are counted and reported once.
    let dropped: Vec<&str> = stderr.lines().filter(|l| l.contains("plugin log lines over the cap were dropped")).collect();
    assert_eq!(dropped.len(), 1, "{stderr}");
    assert!(dropped[0].contains(&format!("dropped={}", FLOOD - LOG_CAP)) && dropped[0].contains("check=flood"), "{}", dropped[0]);
}
