//! `picket run` as a real process: its API, /metrics, restore after `kill -9`, reload
//! good and bad, SIGTERM, the disk forecast from stored history, and a real Prometheus
//! scraping it.

use std::time::Duration;

use picket::result::{CheckResult, Metric, Status};
use picket::store::Store;
use rustix::process::Signal;

use picket_testkit::daemon::{DaemonProc, Workdir, eventually};
use picket_testkit::prometheus::Prometheus;
use picket_testkit::servers::{closed_port, line_server};

const SOON: Duration = Duration::from_secs(20);

fn failing_with_incident(d: &DaemonProc, name: &str) -> serde_json::Value {
    eventually(SOON, &format!("an incident for {name}"), || {
        let c = d.check(name);
        (c["phase"] == "failing" && c["incident"].is_u64()).then_some(c)
    })
}

#[test]
fn the_daemon_runs_checks_and_serves_its_api() {
    let up = line_server("+PONG\r\n", false);
    let closed = closed_port();
    let w = Workdir::new(&format!(
        r#"
[defaults]
every = "300ms"
alert = {{ after = 2, resolve_after = 1 }}

[[check]]
name = "up"
plugin = "tcp"
target = "{up}"

[[check]]
name = "down"
plugin = "tcp"
target = "127.0.0.1:{closed}"

[[check]]
name = "child"
plugin = "tcp"
target = "127.0.0.1:{closed}"
depends_on = ["down"]
"#
    ));
    let d = DaemonProc::start(&w.checks(), &w.store());

    let down = failing_with_incident(&d, "down");
    assert_eq!(down["status"], "critical");
    assert!(down["summary"].as_str().unwrap().contains("refused"), "{down}");
    let child = failing_with_incident(&d, "child");
    assert_eq!(child["inhibited"], true, "a parent that is down inhibits: {child}");
    let up = eventually(SOON, "a result for up", || Some(d.check("up")).filter(|c| c["runs"].as_u64() >= Some(2)));
    assert_eq!((up["phase"].as_str(), up["status"].as_str()), (Some("ok"), Some("ok")));
    assert!(up["metrics"].as_array().unwrap().iter().any(|m| m["name"] == "connect_time"), "{up}");

    let list = d.get("/api/v1/checks").json();
    let names: Vec<&str> = list["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["child", "down", "up"]);

    let history = d.get("/api/v1/checks/down/results?since=5m").json();
    let results = history["results"].as_array().unwrap();
    assert!(results.len() >= 2, "{history}");
    assert!(results.iter().all(|r| r["status"] == "critical"));
    assert!(results[0]["at"].as_str() >= results[1]["at"].as_str(), "newest first");

    let open = d.get("/api/v1/incidents?open=true").json();
    let open = open["incidents"].as_array().unwrap();
    let by_check = |n: &str| open.iter().find(|i| i["check"] == n).unwrap_or_else(|| panic!("no incident for {n}: {open:?}"));
    assert_eq!(by_check("down")["id"], down["incident"]);
    assert_eq!(by_check("child")["inhibited"], true);
    assert!(by_check("down")["resolved"].is_null());

    let metrics = d.get("/metrics");
    assert_eq!(metrics.status, 200);
    for line in [
        "picket_check_status{check=\"down\"} 2",
        "picket_check_up{check=\"up\"} 1",
        "picket_check_failing{check=\"down\"} 1",
        "picket_incidents_open 2",
        "picket_checks 3",
    ] {
        assert!(metrics.body.lines().any(|l| l == line), "no `{line}` in:\n{}", metrics.body);
    }
    for prefix in [
        "picket_check_metric{check=\"up\",metric=\"connect_time\",unit=\"s\"} ",
        "picket_check_duration_seconds_count{check=\"up\"} ",
        "picket_scheduler_lateness_seconds_bucket{le=\"0.005\"} ",
        "picket_checks_run_total ",
        "picket_events_total{event=\"incident-opened\"} ",
        "picket_store_bytes ",
    ] {
        assert!(metrics.body.lines().any(|l| l.starts_with(prefix)), "no `{prefix}…` in:\n{}", metrics.body);
    }

    let health = d.get("/healthz");
    assert_eq!((health.status, health.json()["status"].as_str()), (200, Some("ok")));
    let missing = d.get("/api/v1/checks/dwon");
    assert_eq!(missing.status, 404);
    assert!(missing.json()["error"].as_str().unwrap().contains("did you mean \"down\""), "{}", missing.body);
    let bad = d.get("/api/v1/checks/down/results?since=yesterday");
    assert_eq!(bad.status, 400);
    assert!(d.log().contains("event=\"incident-opened\""), "the log sink prints events:\n{}", d.log());
}

#[test]
fn state_and_open_incidents_survive_kill_9() {
    let closed = closed_port();
    let w = Workdir::new(&format!(
        "[[check]]\nname = \"down\"\nplugin = \"tcp\"\ntarget = \"127.0.0.1:{closed}\"\nevery = \"300ms\"\nalert = {{ after = 2 }}\n"
    ));
    let d = DaemonProc::start(&w.checks(), &w.store());
    let before = failing_with_incident(&d, "down");
    // Let a few more results land after the incident opened.
    let before = eventually(SOON, "more runs", || {
        let c = d.check("down");
        (c["runs"].as_u64() >= Some(before["runs"].as_u64().unwrap() + 3)).then_some(c)
    });
    d.kill_hard();

    let d = DaemonProc::start(&w.checks(), &w.store());
    let after = d.check("down");
    assert_eq!(after["phase"], "failing");
    assert_eq!(after["incident"], before["incident"], "the open incident is the same one");
    // At most the batch in flight at the kill is lost.
    assert!(after["runs"].as_u64().unwrap() + 3 >= before["runs"].as_u64().unwrap(), "{before}\n{after}");
    assert!(after["consecutive_failures"].as_u64().unwrap() >= 2);
    eventually(SOON, "runs to continue", || (d.check("down")["runs"].as_u64() > before["runs"].as_u64()).then_some(()));
    // Three more results observed since the first look: a check never runs twice at once,
    // so the results before the last one are wholly absorbed, events counted. Without the
    // restored state, two failures would have opened an incident by then.
    let seen = after["runs"].as_u64().unwrap();
    eventually(SOON, "three more runs", || (d.check("down")["runs"].as_u64() >= Some(seen + 3)).then_some(()));
    let metrics = d.get("/metrics").body;
    assert!(!metrics.contains("picket_events_total{event=\"incident-opened\"}"), "no new incident after restart:\n{metrics}");
    let all = d.get("/api/v1/incidents").json();
    let incidents = all["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "a restart must not open a second incident: {incidents:?}");
    assert!(d.log().contains("resumed_incidents=1"), "{}", d.log());
}

#[test]
fn reload_keeps_state_and_a_bad_file_keeps_the_old_config() {
    let up = line_server("+PONG\r\n", false);
    let closed = closed_port();
    let check = |name: &str, target: &str| format!("[[check]]\nname = \"{name}\"\nplugin = \"tcp\"\ntarget = \"{target}\"\n\n");
    let head = "[defaults]\nevery = \"300ms\"\n\n";
    let a = check("a", &format!("127.0.0.1:{closed}"));
    let w = Workdir::new(&format!("{head}{a}{}", check("b", &up.to_string())));
    let d = DaemonProc::start(&w.checks(), &w.store());
    let before = failing_with_incident(&d, "a");

    // Good reload by SIGHUP: b leaves, c arrives, a is untouched.
    w.rewrite(&format!("{head}{a}{}", check("c", &up.to_string())));
    d.signal(Signal::HUP);
    eventually(SOON, "c after SIGHUP", || {
        let r = d.get("/api/v1/checks/c");
        (r.status == 200 && r.json()["runs"].as_u64() >= Some(1)).then_some(())
    });
    assert_eq!(d.get("/api/v1/checks/b").status, 404);
    let a_now = d.check("a");
    assert_eq!(a_now["incident"], before["incident"], "an unchanged check keeps its incident");
    assert!(a_now["runs"].as_u64() >= before["runs"].as_u64(), "and its counters");
    let status = d.get("/api/v1/status").json();
    assert_eq!(status["config"]["last_reload"]["added"], serde_json::json!(["c"]));
    assert_eq!(status["config"]["last_reload"]["removed"], serde_json::json!(["b"]));

    // Bad reload by the API: rejected with the file, line and field; the old config runs on.
    w.rewrite(&format!("{head}{a}[[check]]\nname = \"c\"\nplugin = \"tcp\"\ntarget = \"{up}\"\nevrey = \"1s\"\n"));
    let r = d.post("/api/v1/reload");
    assert_eq!(r.status, 422, "{}", r.body);
    let errors = r.json()["errors"].clone();
    let first = errors[0].as_str().unwrap();
    assert!(first.contains("checks.toml:") && first.contains("`evrey`") && first.contains("did you mean `every`"), "{errors}");
    let status = d.get("/api/v1/status").json();
    assert_eq!(status["config"]["last_reload"]["ok"], false);
    assert_eq!(d.get("/healthz").json()["config_ok"], false);
    assert!(d.get("/metrics").body.lines().any(|l| l == "picket_config_last_reload_successful 0"));
    let c_runs = d.check("c")["runs"].as_u64().unwrap();
    eventually(SOON, "c to keep running", || (d.check("c")["runs"].as_u64() > Some(c_runs)).then_some(()));
    assert!(d.log().contains("reload rejected"), "{}", d.log());
}

#[test]
fn sigterm_exits_zero_with_every_result_on_disk() {
    let up = line_server("+PONG\r\n", false);
    let w = Workdir::new(&format!("[[check]]\nname = \"up\"\nplugin = \"tcp\"\ntarget = \"{up}\"\nevery = \"200ms\"\n"));
    let d = DaemonProc::start(&w.checks(), &w.store());
    eventually(SOON, "a few runs", || (d.check("up")["runs"].as_u64() >= Some(5)).then_some(()));
    d.signal(Signal::TERM);
    let (status, log) = d.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("stopped"), "{log}");

    let store = Store::open(&w.store()).unwrap();
    let state = store.restore().unwrap().states.remove("up").unwrap();
    let results = store.results("up", 0, 100_000).unwrap();
    assert_eq!(results.len() as u64, state.runs, "each run's result and state were written together");
}

/// The disk's `used` as the plugin computes it: used / (used + available).
fn root_used_pct() -> f64 {
    let s = rustix::fs::statvfs("/").unwrap();
    let used = (s.f_blocks - s.f_bfree) as f64;
    used / (used + s.f_bavail as f64) * 100.0
}

#[test]
fn disk_days_until_full_comes_from_stored_history() {
    let w = Workdir::new(
        "[[check]]\nname = \"root-disk\"\nplugin = \"disk\"\ntarget = \"/\"\nevery = \"300ms\"\n\
         thresholds = { days_until_full = { crit = \"100000d\" } }\n",
    );
    // Six hours of history, climbing one point an hour to where the disk is now.
    let now_pct = root_used_pct();
    let now = chrono::Utc::now().timestamp_millis();
    {
        let store = Store::open(&w.store()).unwrap();
        for i in 0..36 {
            let age_h = 6.0 - i as f64 / 6.0;
            let r = CheckResult {
                name: "root-disk".into(),
                plugin: "disk".into(),
                target: "/".into(),
                status: Status::Ok,
                summary: "seeded".into(),
                duration: Duration::from_millis(1),
                metrics: vec![Metric { name: "used".into(), value: now_pct - age_h, unit: "%".into() }],
                diagnostics: None,
                failure: None,
                attempts: 1,
            };
            store.record(&r, now - (age_h * 3_600_000.0) as i64);
        }
        store.close();
    }
    let d = DaemonProc::start(&w.checks(), &w.store());
    let c = eventually(SOON, "a forecast", || {
        let c = d.check("root-disk");
        c["metrics"].as_array().unwrap().iter().find(|m| m["name"] == "days_until_full").map(|m| (c.clone(), m.clone()))
    });
    let (check, metric) = c;
    let expected = (100.0 - now_pct) / 24.0;
    let got = metric["value"].as_f64().unwrap();
    assert!((got - expected).abs() < expected * 0.1 + 0.05, "expected ≈{expected:.2} days, got {got}");
    assert_eq!(metric["unit"], "days");
    assert_eq!(check["status"], "critical", "the forecast is usable in thresholds: {check}");
    assert!(check["summary"].as_str().unwrap().contains("days_until_full"), "{check}");
    let metrics = d.get("/metrics").body;
    assert!(metrics.contains("picket_check_metric{check=\"root-disk\",metric=\"days_until_full\",unit=\"days\"}"));

    // The same trend for any metric, on demand.
    let f = d.get("/api/v1/checks/root-disk/forecast?metric=used&window=1d&reaches=100");
    assert_eq!(f.status, 200, "{}", f.body);
    let f = f.json();
    assert!((f["slope_per_day"].as_f64().unwrap() - 24.0).abs() < 3.0, "one point an hour: {f}");
    assert!((f["days_until"].as_f64().unwrap() - expected).abs() < expected * 0.1 + 0.05, "{f}");
    let none = d.get("/api/v1/checks/root-disk/forecast?metric=nonesuch");
    assert_eq!(none.status, 422, "{}", none.body);
}

#[test]
fn prometheus_scrapes_check_status_from_the_daemon() {
    let up = line_server("+PONG\r\n", false);
    let closed = closed_port();
    let w = Workdir::new(&format!(
        "[defaults]\nevery = \"500ms\"\n\n[[check]]\nname = \"redis-temp\"\nplugin = \"tcp\"\ntarget = \"{up}\"\n\n\
         [[check]]\nname = \"mech-queue\"\nplugin = \"tcp\"\ntarget = \"127.0.0.1:{closed}\"\n"
    ));
    let d = DaemonProc::start(&w.checks(), &w.store());
    let prom = Prometheus::scraping("picket", &[d.addr]);
    let series = eventually(Duration::from_secs(60), "picket_check_status in Prometheus", || {
        let r = prom.query("picket_check_status");
        (r.len() == 2).then_some(r)
    });
    let status = |check: &str| {
        let s = series.iter().find(|s| s["metric"]["check"] == check).unwrap_or_else(|| panic!("no series for {check}: {series:?}"));
        assert_eq!(s["metric"]["job"], "picket");
        s["value"][1].as_str().unwrap().to_string()
    };
    assert_eq!(status("redis-temp"), "0");
    assert_eq!(status("mech-queue"), "2");
    // The histogram is usable as one: a quantile over the run durations.
    let q = eventually(Duration::from_secs(30), "a duration quantile", || {
        let r = prom.query("histogram_quantile(0.9, rate(picket_check_duration_seconds_bucket{check=\"redis-temp\"}[10s]))");
        r.first().and_then(|s| s["value"][1].as_str().map(str::to_string)).filter(|v| v != "NaN")
    });
    assert!(q.parse::<f64>().unwrap() < 1.0, "{q}");
}

#[test]
fn hostile_plugins_are_contained_and_the_daemon_keeps_running() {
    let up = line_server("+PONG\r\n", false);
    let fixture = picket_testkit::toml_path(&picket_testkit::fixture());
    let hostile = |name: &str, mode: &str, extra: &str| {
        format!("[[check]]\nname = \"{name}\"\nplugin = {fixture}\ntarget = \"/\"\nmode = \"{mode}\"\n{extra}\n\n")
    };
    let w = Workdir::new(&format!(
        "[defaults]\nevery = \"300ms\"\n\n{}{}{}[[check]]\nname = \"up\"\nplugin = \"tcp\"\ntarget = \"{up}\"\n",
        hostile("spin", "spin", "timeout = \"200ms\""),
        hostile("trap", "trap", ""),
        hostile("alloc", "alloc", "memory = \"16MiB\""),
    ));
    let d = DaemonProc::start(&w.checks(), &w.store());
    let metrics = eventually(SOON, "each hostile plugin stopped twice", || {
        let body = d.get("/metrics").body;
        ["timeout", "trap", "memory-limit"]
            .iter()
            .all(|r| {
                body.lines()
                    .find_map(|l| l.strip_prefix(&format!("picket_sandbox_failures_total{{reason=\"{r}\"}} ")))
                    .is_some_and(|n| n.parse::<u64>().unwrap_or(0) >= 2)
            })
            .then_some(body)
    });
    assert!(metrics.lines().any(|l| l == "picket_check_status{check=\"spin\"} 2"), "a timeout is critical");
    assert_eq!(d.check("trap")["failure"], "trap");
    assert_eq!(d.check("alloc")["failure"], "memory-limit");
    // The healthy check keeps its rhythm beside them.
    let up = eventually(SOON, "up to keep running", || Some(d.check("up")).filter(|c| c["runs"].as_u64() >= Some(5)));
    assert_eq!((up["status"].as_str(), up["failures"].as_u64()), (Some("ok"), Some(0)), "{up}");
    assert_eq!(d.get("/healthz").status, 200);
}
