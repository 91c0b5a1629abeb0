//! The outbox through a real `picket run`: a receiver that is down for a while gets
//! everything in order afterwards, notifications pending at `kill -9` are delivered after
//! the restart, and a silence from the CLI holds notifications until it ends.

use serde_json::json;

use picket_testkit::capture::Capture;
use picket_testkit::daemon::{DaemonProc, Workdir, eventually};
use picket_testkit::picket;

use crate::support::{App, SOON, flapping_app_checks};

#[test]
fn a_receiver_down_for_a_while_gets_everything_in_order_afterwards() {
    let app = App::start(200);
    let hook = Capture::start();
    hook.set_down(true);
    let w = Workdir::new(&flapping_app_checks(&hook.url("/hook"), &app.server.url("/health")));
    let d = DaemonProc::start(&w.checks(), &w.store());
    for (status, incidents) in [(503, 1), (200, 1), (503, 2), (200, 2)] {
        app.set(status);
        eventually(SOON, "the incident to move", || {
            let c = d.check("api");
            let want = if status == 200 { c["incident"].is_null() } else { c["incident"] == incidents };
            want.then_some(())
        });
    }
    let pending = eventually(SOON, "four notifications retrying", || {
        let n = d.get("/api/v1/notifications?state=pending").json();
        let rows = n["notifications"].as_array().cloned().unwrap_or_default();
        (rows.len() == 4 && rows.iter().any(|r| r["attempts"].as_u64() >= Some(2))).then_some(rows)
    });
    // Triggers are being retried; each incident's "resolved" waits behind its trigger.
    for r in &pending {
        match r["kind"].as_str() {
            Some("trigger") => assert!(r["last_error"].as_str().unwrap_or("").contains("503 Service Unavailable"), "{r}"),
            _ => assert_eq!(r["attempts"], 0, "{r}"),
        }
    }
    assert!(hook.bodies().is_empty());
    hook.set_down(false);
    let got = hook.wait_for(4, SOON);
    let seq: Vec<(String, u64)> = got.iter().map(|b| (b["kind"].as_str().unwrap().to_string(), b["incident"].as_u64().unwrap())).collect();
    // Per incident, trigger before resolved; nothing lost, nothing twice.
    for id in [1, 2] {
        let kinds: Vec<&str> = seq.iter().filter(|(_, i)| *i == id).map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds, ["trigger", "resolved"], "{seq:?}");
    }
    // Once nothing is pending, nothing is left to send or retry: what the receiver has is
    // all it gets.
    let n = d.settled_outbox(SOON);
    assert_eq!(n["counts"], json!({ "pending": 0, "delivered": 4, "failed": 0, "suppressed": 0 }), "{n}");
    assert_eq!(hook.bodies().len(), 4, "delivered once each: {:?}", hook.bodies());
    let metrics = d.get("/metrics").body;
    let failed_attempts = metrics
        .lines()
        .find_map(|l| l.strip_prefix("picket_notification_attempts_failed_total{channel=\"hook\"} "))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(failed_attempts >= 4, "{metrics}");
}

#[test]
fn notifications_pending_at_kill_9_are_delivered_after_restart() {
    let app = App::start(503);
    let hook = Capture::start();
    hook.set_down(true);
    let w = Workdir::new(&flapping_app_checks(&hook.url("/hook"), &app.server.url("/health")));
    let d = DaemonProc::start(&w.checks(), &w.store());
    eventually(SOON, "a pending trigger that has been tried twice", || {
        let n = d.get("/api/v1/notifications?state=pending").json();
        n["notifications"].as_array().and_then(|r| r.first().cloned()).filter(|r| r["attempts"].as_u64() >= Some(2))
    });
    // The incident itself is on disk (this flushes the history queue), so the restart
    // resumes it; only the notification is in flight.
    let open = d.get("/api/v1/incidents?open=true").json();
    assert_eq!(open["incidents"][0]["id"], 1, "{open}");
    d.kill_hard();
    hook.set_down(false);
    assert!(hook.bodies().is_empty());
    let d = DaemonProc::start(&w.checks(), &w.store());
    let got = hook.wait_for(1, SOON);
    assert_eq!((got[0]["kind"].as_str(), got[0]["dedup_key"].as_str()), (Some("trigger"), Some("picket/api/1")));
    // The incident carried over the restart: it resolves under the same key, and the
    // outbox never held a second trigger. The responder decides in order, so once the
    // resolve is in the outbox, so is anything decided before it (the restart's reconcile
    // and every event since).
    app.set(200);
    let got = hook.wait_for(2, SOON);
    assert_eq!((got[1]["kind"].as_str(), got[1]["dedup_key"].as_str()), (Some("resolved"), Some("picket/api/1")), "{got:?}");
    let n = d.settled_outbox(SOON);
    assert_eq!(n["counts"], json!({ "pending": 0, "delivered": 2, "failed": 0, "suppressed": 0 }), "{n}");
    assert_eq!(hook.bodies().len(), 2, "{:?}", hook.bodies());
    let trigger = n["notifications"].as_array().unwrap().iter().find(|r| r["kind"] == "trigger").cloned().unwrap();
    assert!(trigger["attempts"].as_u64() >= Some(2), "{n}");
}

#[test]
fn a_silence_from_the_cli_holds_notifications_until_it_ends() {
    let app = App::start(200);
    let hook = Capture::start();
    let w = Workdir::new(&flapping_app_checks(&hook.url("/hook"), &app.server.url("/health")));
    let d = DaemonProc::start(&w.checks(), &w.store());
    let api = format!("http://{}", d.addr);
    let out =
        picket().args(["silence", "api", "--for", "1h", "--reason", "deploying 4.2", "--by", "alice", "--api", &api]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(said.starts_with("silence 1 on api until "), "{said}");
    // A typo is refused rather than silencing nothing.
    let out = picket().args(["silence", "apj", "--for", "1h", "--reason", "x", "--api", &api]).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no check named \"apj\"; did you mean \"api\"?"));

    app.set(503);
    let held = eventually(SOON, "a held notification", || {
        let n = d.get("/api/v1/notifications?state=suppressed").json();
        n["notifications"].as_array().and_then(|r| r.first().cloned())
    });
    assert!(held["reason"].as_str().unwrap().contains("by alice: deploying 4.2"), "{held}");
    // Held, not queued: the trigger was decided and suppressed, and nothing is pending, so
    // nothing is on its way to the receiver.
    let n = d.settled_outbox(SOON);
    assert_eq!(n["counts"], json!({ "pending": 0, "delivered": 0, "failed": 0, "suppressed": 1 }), "{n}");
    assert!(hook.bodies().is_empty(), "silenced");
    let list = picket().args(["silence", "--list", "--api", &api]).output().unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("deploying 4.2"));
    let end = picket().args(["silence", "--end", "1", "--api", &api]).output().unwrap();
    assert!(end.status.success());
    // Still failing when the silence ends: the trigger goes out then, once.
    let got = hook.wait_for(1, SOON);
    assert_eq!(got[0]["kind"], "trigger");
    let n = d.settled_outbox(SOON);
    assert_eq!(n["counts"]["delivered"], 1, "{n}");
    assert_eq!(hook.bodies().len(), 1, "{:?}", hook.bodies());
}
