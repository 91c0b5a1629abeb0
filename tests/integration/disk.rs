//! The built-in `disk` plugin against a temp dir.

use picket::result::Status;

use picket_testkit::{assert_status, run_toml};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_usage_of_the_granted_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().display().to_string();
    let r = run_toml(&format!("[[check]]\nname = \"tmp\"\nplugin = \"disk\"\ntarget = {path:?}\n")).await.remove(0);
    assert_status(&r, Status::Ok);
    let used = r.metric("used").unwrap().value;
    assert!((0.0..=100.0).contains(&used));
    let total = r.metric("total_bytes").unwrap().value;
    let free = r.metric("free_bytes").unwrap().value;
    assert!(total > 0.0 && free <= total);
    // Cross-check with statvfs from the test process itself.
    let s = rustix::fs::statvfs(dir.path()).unwrap();
    assert_eq!(total, (s.f_blocks * s.f_frsize) as f64);
    assert!(r.metric("inodes_used").is_some());
    assert!(r.summary.starts_with(&format!("{path}: ")), "{}", r.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_use_nagios_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().display().to_string();
    // "@0:100" alerts when inside 0..100%, which a real disk always is.
    let r = run_toml(&format!(
        "[[check]]\nname = \"tmp\"\nplugin = \"disk\"\ntarget = {path:?}\nthresholds = {{ used = {{ crit = \"@0:100\" }}, total_bytes = {{ warn = \"1KB\" }} }}\n"
    ))
    .await
    .remove(0);
    assert_status(&r, Status::Critical);
    assert!(r.summary.contains("inside crit @0:100") && r.summary.contains("> warn 1KB"), "{}", r.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_path_is_unknown_not_a_crash() {
    let r = run_toml("[[check]]\nname = \"gone\"\nplugin = \"disk\"\ntarget = \"/definitely/not/here\"\n").await.remove(0);
    assert_status(&r, Status::Unknown);
    assert_eq!(r.failure, None, "the plugin reported it; the sandbox did not have to");
    assert!(r.summary.starts_with("/definitely/not/here: "), "{}", r.summary);
}
