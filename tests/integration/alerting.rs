//! Incidents, dependencies and recovery through a real `picket run`, with real processes:
//! a flapping HTTP service, a real Redis stopped under the checks that depend on it, a
//! child held while its parent is down, recovery that restarts a killed process or a real
//! container through a private `dockerd`, and a recovery that gives up. The rules
//! themselves are tested on a hand-moved clock in the core (`state`, `notify::router`,
//! `recovery`) and on paused time in the daemon's scheduler; here they meet real timing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use serde_json::json;

use picket_testkit::capture::{Capture, header};
use picket_testkit::daemon::{DaemonProc, Workdir, eventually};
use picket_testkit::docker::Dockerd;
use picket_testkit::picket;
use picket_testkit::redis::RedisServer;
use picket_testkit::servers::{HttpServer, Reply, closed_port};

use crate::support::{App, SOON, with_hook};

/// A webhook channel `hook` as the critical route, escalating to `boss` after 1 s.
fn routes(hook: &Capture, boss: &Capture) -> String {
    format!(
        "[notify.hook]\nkind = \"webhook\"\nurl = \"{}\"\nretry_first = \"100ms\"\nretry_max = \"400ms\"\n\n\
         [notify.boss]\nkind = \"webhook\"\nurl = \"{}\"\nretry_first = \"100ms\"\n\n\
         [route.critical]\nnotify = [\"hook\"]\nescalate = {{ after = \"1s\", to = \"managers\" }}\n\n\
         [route.managers]\nnotify = [\"boss\"]\n",
        hook.url("/hook"),
        boss.url("/boss")
    )
}

fn kinds(bodies: &[serde_json::Value]) -> Vec<String> {
    bodies.iter().map(|b| format!("{}:{}", b["check"].as_str().unwrap_or("?"), b["kind"].as_str().unwrap_or("?"))).collect()
}

/// A service that answers 200 and 503 by turns, then steadies: one "flapping", one
/// "flapping stopped", one "resolved"; no trigger, and no escalation although the
/// incident was open for longer than `escalate.after`.
#[test]
fn a_flapping_service_is_one_flapping_one_stopped_one_resolve_and_never_escalated() {
    let flapping = Arc::new(AtomicBool::new(true));
    let n = Arc::new(AtomicU32::new(0));
    let (f, c) = (flapping.clone(), n.clone());
    let app = HttpServer::start(move |_| {
        let i = c.fetch_add(1, Ordering::SeqCst);
        if f.load(Ordering::SeqCst) && i % 2 == 0 { Reply::status(503, "unavailable") } else { Reply::status(200, "ok") }
    });
    let (hook, boss) = (Capture::start(), Capture::start());
    let w = Workdir::new(&format!(
        "[defaults]\nevery = \"200ms\"\n\n{}\n[[check]]\nname = \"api\"\nplugin = \"http\"\ntarget = \"{}\"\n",
        routes(&hook, &boss),
        app.url("/health")
    ));
    let d = DaemonProc::start(&w.checks(), &w.store());
    let got = hook.wait_for(1, SOON);
    assert_eq!(kinds(&got), ["api:flapping"]);
    let summary = got[0]["summary"].as_str().unwrap();
    assert!(summary.starts_with("flapping: ") && summary.contains(" ok/failure changes in the last "), "{summary}");
    // Past escalate.after while it flaps: ten more runs (two seconds at 200 ms).
    let runs = d.check("api")["runs"].as_u64().unwrap();
    eventually(SOON, "ten more runs while flapping", || {
        let c = d.check("api");
        assert_eq!(c["phase"], "flapping", "{c}");
        (c["runs"].as_u64().unwrap() >= runs + 10).then_some(())
    });
    flapping.store(false, Ordering::SeqCst);
    let got = hook.wait_for(3, SOON);
    assert_eq!(kinds(&got), ["api:flapping", "api:flapping-stopped", "api:resolved"]);
    let c = d.check("api");
    assert!(c["incident"].is_null() && c["phase"] == "ok", "{c}");
    // Resolved: nothing more can be decided for this incident, and all of it was sent.
    let n = d.settled_outbox(SOON);
    assert_eq!(n["counts"]["delivered"], 3, "{n}");
    assert!(boss.bodies().is_empty(), "no escalation: {:?}", boss.bodies());
    assert_eq!(hook.bodies().len(), 3);
}

/// The runbook's Redis outage: Redis is checked every minute, three services that need it
/// every 300 ms, and all of them fail at once. One page (Redis), three held.
#[test]
fn a_real_redis_outage_under_its_dependents_pages_once() {
    let mut redis = RedisServer::start("");
    let (hook, boss) = (Capture::start(), Capture::start());
    let mut checks = format!(
        "[defaults]\nevery = \"300ms\"\n\n{}\n[[check]]\nname = \"redis\"\nplugin = \"redis\"\ntarget = \"{}\"\nevery = \"60s\"\n\
         retry_every = \"300ms\"\ntimeout = \"1s\"\n",
        routes(&hook, &boss),
        redis.url("redis")
    );
    for name in ["queue", "worker", "api"] {
        // Each pages on its first failure: nothing but depends_on holds it back.
        checks.push_str(&format!(
            "\n[[check]]\nname = \"{name}\"\nplugin = \"tcp\"\ntarget = \"127.0.0.1:{}\"\ndepends_on = [\"redis\"]\nalert = {{ after = 1 }}\n",
            redis.port
        ));
    }
    let w = Workdir::new(&checks);
    let d = DaemonProc::start(&w.checks(), &w.store());
    // Redis' first turn may be most of a minute away (turns are splayed): when the
    // dependents fail, its state is older than their failure either way.
    eventually(SOON, "the dependents to have run", || ["queue", "worker", "api"].iter().all(|c| d.check(c)["runs"] != 0).then_some(()));
    redis.stop();
    let got = hook.wait_for(1, SOON);
    assert_eq!(kinds(&got), ["redis:trigger"]);
    for c in ["queue", "worker", "api"] {
        eventually(SOON, "the dependent's incident, inhibited", || {
            let v = d.check(c);
            (v["inhibited"] == true && !v["incident"].is_null()).then_some(())
        });
    }
    let n = d.settled_outbox(SOON);
    let held: Vec<&serde_json::Value> = n["notifications"].as_array().unwrap().iter().filter(|r| r["state"] == "suppressed").collect();
    assert_eq!(held.len(), 3, "{n}");
    assert!(held.iter().all(|r| r["reason"].as_str().unwrap_or("").starts_with("inhibited")), "{n}");
    assert_eq!(hook.bodies().len(), 1, "one page: {:?}", kinds(&hook.bodies()));
    // Redis is back: the dependents are re-run at once and resolve; nobody was told of
    // them, so only Redis' own incident is heard resolving.
    redis.restart();
    let got = hook.wait_for(2, SOON);
    assert_eq!(kinds(&got), ["redis:trigger", "redis:resolved"]);
    for c in ["queue", "worker", "api"] {
        eventually(SOON, "the dependent to resolve", || d.check(c)["incident"].is_null().then_some(()));
    }
    let n = d.settled_outbox(SOON);
    assert_eq!(n["counts"]["delivered"], 2, "{n}");
}

/// `recover.notify = "after_failure"` with real containers: a crashed container that a
/// restart brings back pages nobody; a restart that cannot work pages at once after its
/// recheck, saying what was tried, and "gave up" says how it ended. The engine listens
/// on a private socket: `recover.env` hands `DOCKER_HOST` to the action.
#[test]
fn docker_restarts_page_only_when_they_do_not_help() {
    let docker = Dockerd::start();
    docker.import_busybox();
    let port = closed_port();
    docker.httpd("web", port);
    let (hook, boss) = (Capture::start(), Capture::start());
    let ops = Capture::start();
    let recover = |container: &str, max: u32| {
        format!(
            "recover = {{ run = [\"docker\", \"restart\", \"{container}\"], env = {{ DOCKER_HOST = \"{}\" }}, recheck_after = \"1s\", \
             max = {max}, timeout = \"30s\", notify = \"after_failure\", route = \"ops\" }}\n",
            docker.host
        )
    };
    let w = Workdir::new(&format!(
        "[defaults]\nevery = \"300ms\"\n\n{}\n[[check]]\nname = \"web\"\nplugin = \"http\"\ntarget = \"http://127.0.0.1:{port}/health\"\n{}\n\
         [[check]]\nname = \"gone\"\nplugin = \"http\"\ntarget = \"http://127.0.0.1:{}/health\"\n{}\n\
         [notify.ops]\nkind = \"webhook\"\nurl = \"{}\"\n\n[route.ops]\nnotify = [\"ops\"]\n",
        routes(&hook, &boss),
        recover("web", 3),
        closed_port(),
        recover("gone-container", 1),
        ops.url("/ops")
    ));
    let d = DaemonProc::start(&w.checks(), &w.store());
    eventually(SOON, "web up", || (d.check("web")["status"] == "ok").then_some(()));

    // The restart that cannot help: held while it runs, then paged with what was tried.
    // Its budget is one attempt, so "gave up" follows the trigger at once.
    let got = hook.wait_for(2, SOON);
    assert_eq!(kinds(&got), ["gone:trigger", "gone:recovery-gave-up"]);
    assert_eq!(got[0]["recovery_attempts"], 1, "{}", got[0]);
    let summary = got[1]["summary"].as_str().unwrap();
    assert!(
        summary
            .starts_with("recovery gave up after 1 attempt (last: exit 1: Error response from daemon: No such container: gone-container)"),
        "{summary}"
    );
    let log = eventually(SOON, "the failed attempt's log line", || {
        let log = d.log();
        log.contains("recovery attempt failed: exit 1: Error response from daemon: No such container: gone-container").then_some(log)
    });
    assert!(log.contains("check=gone"), "{log}");
    let budget = &d.check("gone")["recovery_budget"];
    assert_eq!((budget["used"].as_u64(), budget["max"].as_u64()), (Some(1), Some(1)), "{budget}");
    assert!(budget["next_allowed"].is_string(), "{budget}");

    // The crash a restart fixes: recorded, recovered, nobody paged.
    docker.ok(&["kill", "web"]);
    let r = eventually(SOON, "web's restart and its recheck", || {
        let inc = d.get("/api/v1/incidents").json();
        inc["incidents"].as_array().unwrap().iter().find(|i| i["check"] == "web" && !i["resolved"].is_null()).cloned()
    });
    assert_eq!(r["resolution"], "recovered", "{r}");
    let rec = d.get("/api/v1/recoveries?check=web").json();
    assert_eq!(rec["recoveries"][0]["outcome"], "ok", "{rec}");
    assert_eq!(d.check("web")["status"], "ok");
    let n = d.settled_outbox(SOON);
    let web: Vec<&serde_json::Value> =
        n["notifications"].as_array().unwrap().iter().filter(|r| r["check"] == "web" && r["route"] == "critical").collect();
    assert!(!web.is_empty() && web.iter().all(|r| r["state"] == "suppressed"), "held, not sent: {n}");
    assert!(web.iter().all(|r| r["reason"].as_str().unwrap_or("").starts_with("recovery running")), "{n}");
    assert!(kinds(&hook.bodies()).iter().all(|k| k.starts_with("gone:")), "{:?}", kinds(&hook.bodies()));
    // The low-priority route (`recover.route`) heard that a restart fixed it.
    let fixed = ops.wait_for(1, SOON);
    assert_eq!(kinds(&fixed), ["web:resolved"]);
    assert!(
        fixed[0]["summary"].as_str().unwrap().starts_with("fixed by recovery (1 attempt), nobody paged; it was failing: "),
        "{}",
        fixed[0]
    );

    // The budget is resettable: the next failure of "gone" tries again.
    let api = format!("http://{}", d.addr);
    let out = picket().args(["recover", "reset", "gone", "--api", &api]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "recovery budget of gone reset: 1 attempts available");
    eventually(SOON, "a second attempt after the reset", || {
        let rec = d.get("/api/v1/recoveries?check=gone").json();
        let attempts = rec["recoveries"].as_array().unwrap().iter().filter(|r| r["outcome"] == "failed").count();
        (attempts >= 2).then_some(())
    });
    let out = picket().args(["recover", "reset", "nope", "--api", &api]).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no check named \"nope\""));
}

#[test]
fn recovery_restarts_a_killed_service_and_the_incident_resolves() {
    let port = closed_port();
    let w = Workdir::new("");
    let dir = w.dir.path().to_path_buf();
    // The service: a real process serving HTTP. The restart script starts it again,
    // detached, and records its pid (so the test can clean up).
    let script = dir.join("restart-web.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"restarting $PICKET_CHECK (attempt $PICKET_ATTEMPT)\"\nsetsid python3 -m http.server {port} --bind 127.0.0.1 --directory {d} >/dev/null 2>&1 &\necho $! > {d}/web.pid\n",
            d = dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let run = |cmd: &str| std::process::Command::new("/bin/sh").arg("-c").arg(cmd).status().unwrap();
    let started = std::process::Command::new(&script).stdout(std::process::Stdio::null()).status().unwrap();
    assert!(started.success());
    let hook = Capture::start();
    w.rewrite(
        &(with_hook("250ms", "after = 2, resolve_after = 1", &hook.url("/hook"))
            + &format!(
                r#"
[[check]]
name = "web"
plugin = "http"
target = "http://127.0.0.1:{port}/"
recover = {{ run = ["./restart-web.sh"], recheck_after = "1s", max = 3, within = "1h", timeout = "10s" }}
"#
            )),
    );
    let kill_web = || run(&format!("kill $(cat {}/web.pid) 2>/dev/null", dir.display()));
    let d = DaemonProc::start(&w.checks(), &w.store());
    eventually(SOON, "web to be up", || (d.check("web")["status"] == "ok").then_some(()));
    assert!(d.check("web")["recover"].as_str().unwrap().ends_with("restart-web.sh"));
    assert!(kill_web().success());
    let got = hook.wait_for(2, SOON);
    assert_eq!((got[0]["kind"].as_str(), got[1]["kind"].as_str()), (Some("trigger"), Some("resolved")), "{got:?}");
    assert_eq!(got[1]["recovery_attempts"], 1);
    let r = d.get("/api/v1/recoveries?check=web").json();
    let attempts = r["recoveries"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{r}");
    assert_eq!(attempts[0]["outcome"], "ok");
    assert_eq!(attempts[0]["exit_code"], 0);
    assert_eq!(attempts[0]["output"], "restarting web (attempt 1)");
    assert!(attempts[0]["action"].as_str().unwrap().ends_with("restart-web.sh"), "{r}");
    let metrics = d.get("/metrics").body;
    assert!(metrics.contains("picket_recovery_attempts_total{check=\"web\",outcome=\"ok\"} 1"), "{metrics}");
    assert_eq!(d.check("web")["phase"], "ok");
    kill_web();
}

#[test]
fn a_recovery_that_never_helps_stops_at_its_budget_and_says_so_on_the_critical_route() {
    let closed = closed_port();
    let (hook, pager, restart) = (Capture::start(), Capture::start(), Capture::start());
    let w = Workdir::new(&format!(
        r#"
[defaults]
every = "150ms"
alert = {{ after = 1, resolve_after = 1 }}

[notify.hook]
kind = "webhook"
url = "{hook}"

[notify.pager]
kind = "webhook"
url = "{pager}"

[route.team]
notify = ["hook"]

[route.critical]
notify = ["pager"]

[[check]]
name = "db"
plugin = "tcp"
target = "127.0.0.1:{closed}"
alert = {{ after = 1, resolve_after = 1, route = "team" }}
recover = {{ http = "{restart}", body = "{{\"service\": \"db\"}}", recheck_after = "1s", max = 2, within = "1h" }}
"#,
        hook = hook.url("/hook"),
        pager = pager.url("/page"),
        restart = restart.url("/restart/db"),
    ));
    let d = DaemonProc::start(&w.checks(), &w.store());
    let page = pager.wait_for(1, SOON).remove(0);
    // Failures during each recheck grace (two of 1s at 150ms) were recorded, not counted.
    let c = d.check("db");
    let results = d.get("/api/v1/checks/db/results?since=5m&limit=1000").json();
    let recorded = results["results"].as_array().unwrap().len() as u64;
    let counted = c["runs"].as_u64().unwrap();
    assert!(recorded >= counted + 8, "recorded {recorded} results, counted {counted}");
    assert_eq!(page["kind"], "recovery-gave-up");
    assert_eq!(page["dedup_key"], "picket/db/1/recovery-gave-up");
    assert_eq!(page["severity"], "critical");
    assert_eq!(page["route"], "critical");
    assert_eq!(page["recovery_attempts"], 2);
    // How the last attempt ended, then what still fails.
    let summary = page["summary"].as_str().unwrap();
    assert!(summary.starts_with("recovery gave up after 2 attempts (last: HTTP 202: {\"status\":\"success\"}); still failing: "), "{page}");
    // The check's own route heard of the incident, not the gave-up page.
    let team = hook.wait_for(1, SOON);
    assert_eq!(team[0]["kind"], "trigger");
    assert_eq!(team[0]["route"], "team");
    // The budget's last word for this incident is on record: it gave up after two
    // attempts, each recorded only once its POST was answered. No third attempt can
    // follow a give-up, so the restart endpoint has all it will get.
    let r = eventually(SOON, "the give-up on record", || {
        let r = d.get("/api/v1/recoveries?check=db").json();
        (r["recoveries"][0]["outcome"] == "gave-up").then_some(r)
    });
    let outcomes: Vec<&str> = r["recoveries"].as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["gave-up", "ok", "ok"], "newest first: {r}");
    // Two POSTs to the restart endpoint, each with the check's name; no third.
    let posts = restart.seen();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert_eq!(posts[0].method, "POST");
    assert_eq!(posts[0].body, "{\"service\": \"db\"}");
    assert_eq!(header(&posts[1], "x-picket-check"), Some("db"));
    assert_eq!(header(&posts[1], "x-picket-attempt"), Some("2"));
    let metrics = d.get("/metrics").body;
    assert!(metrics.contains("picket_recovery_gave_up_total{check=\"db\"} 1"), "{metrics}");
    assert!(metrics.contains("picket_recovery_attempts_total{check=\"db\",outcome=\"ok\"} 2"), "{metrics}");
}

#[test]
fn a_child_is_held_while_its_parent_is_down_and_pages_if_it_still_fails_after() {
    let (parent, child) = (App::start(503), App::start(503));
    let hook = Capture::start();
    let w = Workdir::new(
        &(with_hook("250ms", "after = 2, resolve_after = 1", &hook.url("/hook"))
            + &format!(
                r#"
[[check]]
name = "redis"
plugin = "http"
target = "{parent}"

[[check]]
name = "queue"
plugin = "http"
target = "{child}"
depends_on = ["redis"]
"#,
                parent = parent.server.url("/"),
                child = child.server.url("/"),
            )),
    );
    let d = DaemonProc::start(&w.checks(), &w.store());
    let held = eventually(SOON, "the child's notification held", || {
        let n = d.get("/api/v1/notifications?state=suppressed").json();
        n["notifications"].as_array().and_then(|r| r.iter().find(|r| r["check"] == "queue").cloned())
    });
    assert!(held["reason"].as_str().unwrap().starts_with("inhibited"), "{held}");
    assert_eq!(held["kind"], "trigger");
    let got = hook.wait_for(1, SOON);
    assert_eq!((got[0]["check"].as_str(), got[0]["kind"].as_str()), (Some("redis"), Some("trigger")));
    // Only the parent pages: the child's trigger is held (above), and with nothing pending
    // nothing else is on its way.
    let n = d.settled_outbox(SOON);
    assert_eq!(n["counts"], json!({ "pending": 0, "delivered": 1, "failed": 0, "suppressed": 1 }), "{n}");
    assert_eq!(hook.bodies().len(), 1, "only the parent pages: {:?}", hook.bodies());
    // The parent comes back; the child still fails, so now it pages.
    parent.set(200);
    let got = hook.wait_for(3, SOON);
    let seen: Vec<(String, String)> =
        got.iter().map(|b| (b["check"].as_str().unwrap().to_string(), b["kind"].as_str().unwrap().to_string())).collect();
    assert!(seen.contains(&("redis".into(), "resolved".into())), "{seen:?}");
    assert!(seen.contains(&("queue".into(), "trigger".into())), "{seen:?}");
}
