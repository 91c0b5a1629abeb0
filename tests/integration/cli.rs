//! The `picket` binary: exit codes, every output format, `--only`, `--wait`, and the
//! compile cache.

use std::net::TcpListener;

use quick_xml::Reader;
use quick_xml::events::Event;

use picket_testkit::servers::{closed_port, line_server};
use picket_testkit::{CheckFile, HttpServer, Reply, fixture, picket, picket_run, toml_path};

/// A file with one check of each status: ok, warning, critical, unknown.
fn mixed(ok_port: u16) -> CheckFile {
    let fx = toml_path(&fixture());
    CheckFile::new(&format!(
        r#"
[[check]]
name = "up"
plugin = "tcp"
target = "127.0.0.1:{ok_port}"

[[check]]
name = "slow-ish"
plugin = {fx}
target = "/"
mode = "ok"
thresholds = {{ value = {{ warn = "10", crit = "100" }} }}

[[check]]
name = "down"
plugin = "tcp"
target = "127.0.0.1:{closed}"

[[check]]
name = "broken"
plugin = {fx}
target = "/"
mode = "trap"
"#,
        closed = closed_port()
    ))
}

fn only(file: &CheckFile, names: &[&str], extra: &[&str]) -> picket_testkit::Output {
    let path = file.path();
    let mut args = vec!["check", "-c", path.to_str().unwrap()];
    if !names.is_empty() {
        args.push("--only");
        args.extend(names);
    }
    args.extend(extra);
    picket_run(&args, None)
}

#[test]
fn exit_codes_follow_the_worst_status() {
    let addr = line_server("hi", true);
    let f = mixed(addr.port());
    assert_eq!(only(&f, &["up"], &[]).code, 0);
    assert_eq!(only(&f, &["up", "slow-ish"], &[]).code, 0, "warnings pass by default");
    assert_eq!(only(&f, &["up", "slow-ish"], &["--fail-on", "warning"]).code, 1);
    assert_eq!(only(&f, &["broken", "slow-ish"], &[]).code, 3);
    assert_eq!(only(&f, &[], &[]).code, 2, "critical beats unknown");
    let out = only(&f, &["dwn"], &[]);
    assert_eq!(out.code, 64);
    assert!(out.stderr.contains("--only: no check named \"dwn\"; did you mean `down`?"), "{}", out.stderr);
    assert_eq!(picket_run(&["check", "--no-such-flag"], None).code, 64);
    let bad = CheckFile::new("[[check]]\nname = 1\n");
    let out = picket_run(&["check", "-c", bad.path().to_str().unwrap()], None);
    assert_eq!(out.code, 78);
    assert!(out.stderr.contains("checks.toml:2:8: [[check]], field `name`: expected a string, found an integer"), "{}", out.stderr);
}

/// A CI step runs the daemon's files with `picket check`, which notifies nobody: an unset
/// Slack or PagerDuty secret is not its business. `validate` and `run` still refuse it.
#[test]
fn check_does_not_need_notification_secrets() {
    let addr = line_server("hi", true);
    let f = CheckFile::new(&format!(
        "[notify.oncall]\nkind = \"pagerduty\"\nrouting_key = {{ env = \"PICKET_TEST_UNSET_ROUTING_KEY\" }}\n\n\
         [route.critical]\nnotify = [\"oncall\"]\n\n[[check]]\nname = \"up\"\nplugin = \"tcp\"\ntarget = \"127.0.0.1:{}\"\n",
        addr.port()
    ));
    let out = picket_run(&["check", "-c", f.path().to_str().unwrap()], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = picket_run(&["validate", "-c", f.path().to_str().unwrap()], None);
    assert_eq!(out.code, 78);
    assert!(out.stderr.contains("environment variable PICKET_TEST_UNSET_ROUTING_KEY is not set"), "{}", out.stderr);
}

#[test]
fn human_output_lists_every_check_with_reasons() {
    let addr = line_server("hi", true);
    let f = mixed(addr.port());
    let out = only(&f, &[], &[]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("✓ up       ok       connected to 127.0.0.1:"), "{}", out.stdout);
    assert!(lines[1].starts_with("! slow-ish warning  fine; value 42 > warn 10"), "{}", out.stdout);
    assert!(lines[2].starts_with("✗ down     critical 127.0.0.1:"), "{}", out.stdout);
    assert!(lines[3].starts_with("? broken   unknown  plugin trapped: "), "{}", out.stdout);
    assert!(out.stdout.contains("    guest output:"), "trap diagnostics are indented: {}", out.stdout);
    assert!(out.stdout.contains("4 checks: 1 ok, 1 warning, 1 critical, 1 unknown in "), "{}", out.stdout);
    assert!(!out.stdout.contains('\x1b'), "no colour when not a terminal");
    let colored = only(&f, &["up"], &["--color", "always"]);
    assert!(colored.stdout.contains("\x1b[32m✓\x1b[0m") && colored.stdout.contains("\x1b[32mok      \x1b[0m"), "{}", colored.stdout);
}

#[test]
fn json_output_parses_and_carries_reasons() {
    let addr = line_server("hi", true);
    let f = mixed(addr.port());
    let out = only(&f, &[], &["--format", "json"]);
    assert_eq!(out.code, 2);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["status"], "critical");
    assert_eq!(v["passed"], false);
    assert_eq!(v["counts"], serde_json::json!({"ok": 1, "warning": 1, "critical": 1, "unknown": 1}));
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 4);
    assert_eq!(checks[0]["name"], "up");
    assert_eq!(checks[0]["metrics"][0]["name"], "connect_time");
    assert_eq!(checks[3]["failure"]["kind"], "trap");
    assert!(checks[3]["failure"]["detail"].as_str().unwrap().contains("fixture trap requested"));
    assert_eq!(checks[1]["attempts"], 1);
}

#[test]
fn junit_output_is_valid_xml_with_failures_and_errors() {
    let addr = line_server("hi", true);
    let f = mixed(addr.port());
    let out = only(&f, &[], &["--format", "junit", "--fail-on", "warning"]);
    let mut reader = Reader::from_str(&out.stdout);
    let (mut cases, mut failures, mut errors) = (Vec::new(), 0, 0);
    let mut suite_attrs = None;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) if e.name().as_ref() == b"testsuite" => {
                let attrs: Vec<(String, String)> = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        (String::from_utf8_lossy(a.key.as_ref()).into_owned(), a.unescape_value().unwrap().into_owned())
                    })
                    .collect();
                suite_attrs = Some(attrs);
            }
            Event::Start(e) if e.name().as_ref() == b"testcase" => {
                let name = e.try_get_attribute("name").unwrap().unwrap().unescape_value().unwrap().into_owned();
                cases.push(name);
            }
            Event::Start(e) if e.name().as_ref() == b"failure" => failures += 1,
            Event::Start(e) if e.name().as_ref() == b"error" => errors += 1,
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(cases, ["up", "slow-ish", "down", "broken"]);
    assert_eq!((failures, errors), (2, 1), "warning fails with --fail-on warning; unknown is an error");
    let attrs = suite_attrs.unwrap();
    let get = |k: &str| attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone()).unwrap();
    assert_eq!((get("tests"), get("failures"), get("errors")), ("4".into(), "2".into(), "1".into()));
}

#[test]
fn tap_output() {
    let addr = line_server("hi", true);
    let f = mixed(addr.port());
    let out = only(&f, &[], &["--format", "tap"]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(&lines[..3], ["TAP version 13", "1..4", lines[2]]);
    assert!(lines[2].starts_with("ok 1 - up: connected to"), "{}", out.stdout);
    assert!(out.stdout.contains("\nok 2 - slow-ish: fine; value 42 > warn 10\n  ---\n  status: warning\n"), "{}", out.stdout);
    assert!(out.stdout.contains("\nnot ok 3 - down: "), "{}", out.stdout);
    assert!(out.stdout.contains("\nnot ok 4 - broken: plugin trapped: ") && out.stdout.contains("  reason: trap\n"), "{}", out.stdout);
}

#[test]
fn nagios_output_uses_nagios_exit_codes_and_perfdata() {
    let addr = line_server("hi", true);
    let f = mixed(addr.port());
    let out = only(&f, &["up", "slow-ish"], &["--format", "nagios"]);
    assert_eq!(out.code, 1, "Nagios WARNING regardless of --fail-on");
    let first = out.stdout.lines().next().unwrap();
    assert!(first.starts_with("PICKET WARNING - slow-ish: fine; value 42 > warn 10 | 'up.connect_time'="), "{first}");
    assert!(first.ends_with("s 'slow-ish.value'=42"), "{first}");
    assert!(out.stdout.contains("\n[OK] up: connected to"), "{}", out.stdout);
}

#[test]
fn wait_retries_until_a_late_server_comes_up() {
    use std::io::{BufRead, BufReader, Read};
    // Reserve a port, free it, and start the server on it once picket has said it is
    // waiting: a failed attempt is seen first however slowly picket starts on a busy machine.
    let port = closed_port();
    let f = CheckFile::new(&format!(
        "[[check]]\nname = \"late\"\nplugin = \"http\"\ntarget = \"http://127.0.0.1:{port}/health\"\ntimeout = \"1s\"\n"
    ));
    let mut child = picket()
        .args(["check", "-c", f.path().to_str().unwrap(), "--wait", "30s", "--interval", "200ms", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let watcher = std::thread::spawn(move || {
        let mut seen = String::new();
        let mut server = None;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if server.is_none() && line.contains("picket: waiting for late (") {
                let listener = TcpListener::bind(("127.0.0.1", port)).expect("port still free");
                server = Some(HttpServer::start_on(listener, None, |_| Reply::ok("up")));
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        (seen, server)
    });
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    let code = child.wait().unwrap().code();
    let (stderr, _server) = watcher.join().unwrap();
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(v["checks"][0]["attempts"].as_u64().unwrap() > 1, "{stdout}");
    assert!(stderr.contains("picket: waiting for late ("), "progress is shown in CI logs: {stderr}");
}

#[test]
fn wait_gives_up_at_the_deadline() {
    let f = CheckFile::new(&format!("[[check]]\nname = \"never\"\nplugin = \"tcp\"\ntarget = \"127.0.0.1:{}\"\n", closed_port()));
    let out = picket_run(&["check", "-c", f.path().to_str().unwrap(), "--wait", "1s", "--interval", "100ms"], None);
    assert_eq!(out.code, 2);
    assert!(out.stdout.contains("never") && out.stdout.contains("attempts)"), "{}", out.stdout);
}

#[test]
fn the_second_run_loads_compiled_plugins_from_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let f = CheckFile::new("[[check]]\nname = \"d\"\nplugin = \"disk\"\ntarget = \"/\"\n");
    let run = || {
        let out = picket()
            .args(["check", "-c", f.path().to_str().unwrap()])
            .env("PICKET_CACHE_DIR", cache.path())
            .env("RUST_LOG", "picket=debug")
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let first = run();
    assert!(first.contains("picket_sandbox::engine: compiled component plugin=\"disk\""), "{first}");
    let second = run();
    assert!(!second.contains("picket_sandbox::engine: compiled component"), "{second}");
    assert!(second.contains("loaded compiled component from cache"), "{second}");
    // --no-cache compiles in memory and writes nothing.
    let nocache = tempfile::tempdir().unwrap();
    let out =
        picket().args(["--no-cache", "check", "-c", f.path().to_str().unwrap()]).env("PICKET_CACHE_DIR", nocache.path()).output().unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read_dir(nocache.path()).unwrap().count(), 0);
}
