//! `tests/ui/*.toml` paired with `*.stderr`: the exact text `picket validate` prints.
//! Files named `good-*.toml` must validate; `warn-*.toml` must validate (exit 0) with
//! exactly the warnings in their `*.stderr`. Set `PICKET_BLESS=1` to rewrite the expected
//! files after an intended change of wording (then review the diff).

use std::path::PathBuf;

use picket_testkit::picket_run;

fn ui_dir() -> PathBuf {
    picket_testkit::root().join("tests/ui")
}

#[test]
fn every_ui_file_gives_its_expected_errors() {
    let dir = ui_dir();
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect();
    files.sort();
    assert!(files.len() >= 10, "ui cases went missing");
    let bless = std::env::var_os("PICKET_BLESS").is_some();
    let mut failures = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        let out = picket_run(&["validate", "-c", &name], Some(&dir));
        if name.starts_with("good-") {
            if out.code != 0 || !out.stderr.is_empty() {
                failures.push(format!("{name}: expected to validate, got exit {}:\n{}", out.code, out.stderr));
            }
            continue;
        }
        let warns_only = name.starts_with("warn-");
        // Drop the closing count line; the per-problem lines are the contract.
        let got: String =
            out.stderr.lines().filter(|l| !l.starts_with("picket: invalid configuration")).map(|l| format!("{l}\n")).collect();
        let expected_path = file.with_extension("stderr");
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| format!("(no {})", expected_path.display()));
        let code = if warns_only { 0 } else { 78 };
        if out.code != code {
            failures.push(format!("{name}: expected exit {code}, got {}", out.code));
        }
        if got != expected {
            failures.push(format!("{name}:\n--- expected\n{expected}--- got\n{got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Issue 21: a typo or a wrong kind inside the built-in `http` plugin's `expect` used to
/// validate, then every run was `unknown` and paged someone. The plugin's declared shape
/// makes both errors at their line and column.
#[test]
fn the_http_plugins_expect_is_checked_inside() {
    let dir = tempfile::tempdir().unwrap();
    let checks = "[defaults]\ntimeout = \"5s\"\n\n[[check]]\nname = \"api\"\nplugin = \"http\"\ntarget = \"http://localhost:8080/\"\n";
    std::fs::write(dir.path().join("typo.toml"), format!("{checks}expect = {{ stauts = 200 }}\n")).unwrap();
    std::fs::write(dir.path().join("kind.toml"), format!("{checks}expect = {{ status = \"200\" }}\n")).unwrap();
    std::fs::write(dir.path().join("fine.toml"), format!("{checks}expect = {{ status = [200, \"3xx\"], json = {{ \"a.b\" = 1 }} }}\n"))
        .unwrap();
    let out = picket_run(&["validate", "-c", "typo.toml"], Some(dir.path()));
    assert_eq!(out.code, 78, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(
            "typo.toml:8:12: check \"api\", field `expect.stauts`: unknown key; did you mean `status`? (expect takes status, body, body_regex, json)\n"
        ),
        "{}",
        out.stderr
    );
    let out = picket_run(&["validate", "-c", "kind.toml"], Some(dir.path()));
    assert_eq!(out.code, 78, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(
            "kind.toml:8:21: check \"api\", field `expect.status`: expected an integer, found a string; write 200 without quotes\n"
        ),
        "{}",
        out.stderr
    );
    let out = picket_run(&["validate", "-c", "fine.toml"], Some(dir.path()));
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
}

#[test]
fn invalid_toml_points_at_the_line() {
    let out = picket_run(&["validate", "-c", "invalid-toml.toml"], Some(&ui_dir()));
    assert_eq!(out.code, 78);
    assert!(out.stderr.starts_with("invalid-toml.toml:2:12: invalid TOML: invalid basic string"), "{}", out.stderr);
}

#[test]
fn all_errors_in_a_directory_are_reported_together() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), "[[check]]\nname = \"a\"\nplugin = \"tcp\"\ntarget = \"x:1\"\ntimout = \"1s\"\n").unwrap();
    std::fs::write(dir.path().join("b.toml"), "[[check]]\nname = \"a\"\nplugin = \"tcp\"\ntarget = \"x:2\"\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a check file").unwrap();
    let out = picket_run(&["validate", "-c", "."], Some(dir.path()));
    assert_eq!(out.code, 78);
    assert!(
        out.stderr.contains("a.toml:5:1: check \"a\": unknown field `timout` for plugin `tcp`; did you mean `timeout`?"),
        "{}",
        out.stderr
    );
    // a.toml's only check was invalid, so b.toml's "a" is the first one: no duplicate.
    assert!(!out.stderr.contains("duplicate"), "{}", out.stderr);
    assert!(out.stderr.contains("picket: invalid configuration (1 problem)"), "{}", out.stderr);
}

/// `picket validate … | head`: a reader that has gone away is not a crash (exit 101 with a
/// panic message); picket stops quietly, as a process killed by SIGPIPE would.
#[test]
fn a_closed_pipe_ends_validate_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    // Closed before picket writes a byte: every write fails with EPIPE.
    drop(reader);
    let out = picket_testkit::picket()
        .args(["validate", "-c", "checks"])
        .current_dir(picket_testkit::root())
        .env("APP_DB_PASSWORD", "x")
        .env("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/x")
        .env("PAGERDUTY_ROUTING_KEY", "k1")
        .env("PAGERDUTY_ESCALATION_KEY", "k2")
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn the_example_checks_validate() {
    let root = picket_testkit::root();
    let out = picket_testkit::picket()
        .args(["validate", "-c", "checks"])
        .current_dir(&root)
        .env("APP_DB_PASSWORD", "x")
        .env("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/x")
        .env("PAGERDUTY_ROUTING_KEY", "k1")
        .env("PAGERDUTY_ESCALATION_KEY", "k2")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.starts_with("ok: 6 checks in checks/alerting.toml, checks/seed-services.toml"), "{stdout}");
    assert!(stdout.contains("recover: run docker restart mech-queue"), "{stdout}");
    assert!(
        stdout.contains("  critical → oncall (pagerduty), slack-critical (slack), console (log); remind after 30m, ×2 up to 4h; escalate after 15m to managers"),
        "{stdout}"
    );
    assert!(stdout.contains("  warning → slack-ops (slack), console (log); warnings at most once per 6h per check"), "{stdout}");
    // The example's password is a reference; without it, validate says which variable.
    let out = picket_run(&["validate", "-c", "checks"], Some(&root));
    assert_eq!(out.code, 78);
    assert!(out.stderr.contains("check \"app-db\", field `password`: environment variable APP_DB_PASSWORD is not set"), "{}", out.stderr);
    assert!(
        out.stderr.contains("alerting.toml:27:7: [notify.slack-critical], field `url`: environment variable SLACK_WEBHOOK_URL is not set"),
        "{}",
        out.stderr
    );
}
