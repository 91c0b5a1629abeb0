//! Notifications and recovery through a real `picket run`: exact webhook, Slack and
//! PagerDuty payloads (and the HMAC signature) at in-process receivers, a real
//! Alertmanager, e-mail to a local SMTP server, a receiver that is down for a while, a
//! `kill -9` with notifications pending, silences through the CLI, and recovery actions
//! that restart a real process or give up. Routing timers (cooldown, reminders,
//! escalation, inhibition, silences) are tested with a hand-moved clock in
//! `notify::router`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use picket_testkit::alertmanager::Alertmanager;
use picket_testkit::capture::{Capture, Smtp, header};
use picket_testkit::daemon::{DaemonProc, Workdir, eventually};
use picket_testkit::picket;
use picket_testkit::servers::{HttpServer, Reply, closed_port};

const SOON: Duration = Duration::from_secs(30);

/// An HTTP service whose health answer the test switches.
struct App {
    server: HttpServer,
    status: Arc<AtomicU16>,
}

impl App {
    fn start(status: u16) -> App {
        let s = Arc::new(AtomicU16::new(status));
        let st = s.clone();
        let server = HttpServer::start(move |_| {
            let code = st.load(Ordering::SeqCst);
            Reply::status(code, if code == 200 { "ok" } else { "unavailable" })
        });
        App { server, status: s }
    }

    fn set(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }
}

fn source() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    format!("picket@{}", host.trim())
}

/// Removes the fields that differ run to run, after checking their shape.
fn stable(mut v: serde_json::Value) -> serde_json::Value {
    for k in ["at", "since"] {
        let t = v[k].as_str().unwrap_or_else(|| panic!("{k} missing: {v}"));
        chrono::DateTime::parse_from_rfc3339(t).unwrap_or_else(|e| panic!("{k}={t}: {e}"));
        v.as_object_mut().unwrap().remove(k);
    }
    if let Some(values) = v["values"].as_array_mut() {
        for m in values {
            assert!(m["value"].as_f64().is_some_and(|x| x >= 0.0), "{m}");
            m.as_object_mut().unwrap().remove("value");
        }
    }
    v
}

#[test]
fn webhook_slack_and_pagerduty_get_exact_payloads_and_a_valid_signature() {
    let app = App::start(503);
    let (hook, slack, pd) = (Capture::start(), Capture::start(), Capture::start());
    let w = Workdir::new("");
    std::fs::write(w.dir.path().join("hook.secret"), "s3cret-hmac-key\n").unwrap();
    std::fs::write(w.dir.path().join("pd.key"), "R0UTINGKEY").unwrap();
    w.rewrite(&format!(
        r##"
[defaults]
every = "300ms"
alert = {{ after = 2, resolve_after = 1 }}

[notify.hook]
kind = "webhook"
url = "{hook}"
headers = {{ "X-Team" = "ops" }}
secret = {{ file = "hook.secret" }}

[notify.slack]
kind = "slack"
url = "{slack}"
channel = "#ops"

[notify.pd]
kind = "pagerduty"
url = "{pd}"
routing_key = {{ file = "pd.key" }}

[route.critical]
notify = ["hook", "slack", "pd"]

[[check]]
name = "api"
plugin = "http"
target = "{app}"
description = "The public API"
runbook = "https://wiki.example.com/runbooks/api"
thresholds = {{ response_time = {{ warn = "1s", crit = "3s" }} }}
"##,
        hook = hook.url("/hook"),
        slack = slack.url("/services/T0/B0/XYZ"),
        pd = pd.url("/v2/enqueue"),
        app = app.server.url("/health"),
    ));
    let d = DaemonProc::start(&w.checks(), &w.store());
    let trigger = hook.wait_for(1, SOON).remove(0);
    let summary = trigger["summary"].as_str().unwrap().to_string();
    assert!(summary.contains("503"), "{summary}");
    let target = app.server.url("/health");
    assert_eq!(
        stable(trigger.clone()),
        json!({
            "kind": "trigger",
            "check": "api",
            "incident": 1,
            "dedup_key": "picket/api/1",
            "severity": "critical",
            "summary": summary,
            "description": "The public API",
            "plugin": "http",
            "target": target,
            "runbook": "https://wiki.example.com/runbooks/api",
            "failures": 2,
            "recovery_attempts": 0,
            "route": "critical",
            "values": [{ "metric": "response_time", "unit": "s", "warn": "1s", "crit": "3s" }],
            "source": source(),
        })
    );
    // The signature is the HMAC-SHA256 of the exact body bytes under the file's secret.
    let req = &hook.seen()[0];
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret-hmac-key").unwrap();
    mac.update(req.body.as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(header(req, "x-picket-signature"), Some(expected.as_str()));
    assert_eq!(header(req, "x-team"), Some("ops"));
    assert_eq!(header(req, "x-picket-event"), Some("trigger"));
    assert_eq!(header(req, "content-type"), Some("application/json"));
    assert!(header(req, "x-picket-delivery").unwrap().parse::<i64>().is_ok());
    assert_eq!(req.path, "/hook");

    let s = slack.wait_for(1, SOON).remove(0);
    let ts = s["attachments"][0]["ts"].as_i64().unwrap();
    let since = s["attachments"][0]["fields"][3]["value"].as_str().unwrap().to_string();
    let response_time = s["attachments"][0]["fields"][2]["value"].as_str().unwrap().to_string();
    assert!(response_time.starts_with("response_time ") && response_time.ends_with(" (warn 1s, crit 3s)"), "{response_time}");
    let headline = format!("[CRITICAL] api: {summary}");
    assert_eq!(
        s,
        json!({
            "text": headline,
            "attachments": [{
                "color": "#d50200",
                "fallback": headline,
                "title": "api — incident 1",
                "text": "The public API",
                "fields": [
                    { "title": "Check", "value": "api", "short": true },
                    { "title": "Severity", "value": "critical", "short": true },
                    { "title": "Value", "value": response_time, "short": false },
                    { "title": "Since", "value": since, "short": true },
                    { "title": "Recovery attempts", "value": "0", "short": true },
                    { "title": "Runbook", "value": "<https://wiki.example.com/runbooks/api|runbook>", "short": true },
                ],
                "footer": source(),
                "ts": ts,
            }],
            "channel": "#ops",
        })
    );

    let p = pd.wait_for(1, SOON).remove(0);
    let ts = p["payload"]["timestamp"].as_str().unwrap().to_string();
    let details = p["payload"]["custom_details"].clone();
    assert_eq!(details["incident"], 1);
    assert_eq!(details["target"], target.as_str());
    assert_eq!(details["route"], "critical");
    assert_eq!(
        p,
        json!({
            "routing_key": "R0UTINGKEY",
            "event_action": "trigger",
            "dedup_key": "picket/api/1",
            "client": "picket",
            "payload": {
                "summary": headline,
                "source": source(),
                "severity": "critical",
                "timestamp": ts,
                "component": "api",
                "group": "http",
                "class": "trigger",
                "custom_details": details,
            },
            "links": [{ "href": "https://wiki.example.com/runbooks/api", "text": "Runbook" }],
        })
    );

    // Back up: each receiver hears it resolved, PagerDuty by the same dedup key.
    app.set(200);
    let resolved = hook.wait_for(2, SOON).remove(1);
    assert_eq!(resolved["kind"], "resolved");
    assert_eq!(resolved["dedup_key"], "picket/api/1");
    assert!(resolved["lasted_s"].is_u64(), "{resolved}");
    assert_eq!(header(&hook.seen()[1], "x-picket-event"), Some("resolved"));
    let p = pd.wait_for(2, SOON).remove(1);
    assert_eq!(p, json!({ "routing_key": "R0UTINGKEY", "event_action": "resolve", "dedup_key": "picket/api/1" }));
    let s = slack.wait_for(2, SOON).remove(1);
    assert_eq!(s["attachments"][0]["color"], "#2eb886");
    assert!(s["text"].as_str().unwrap().starts_with("[RESOLVED] api: "), "{s}");

    // A receipt comes before its delivery record (outcomes are written in batches), so
    // wait for the outbox to settle rather than read it at once.
    let n = d.settled_outbox(SOON);
    assert_eq!(n["counts"]["delivered"], 6, "{n}");
    let metrics = d.get("/metrics").body;
    assert!(metrics.contains("picket_notifications_delivered_total{channel=\"pd\"} 2"), "{metrics}");
    assert!(metrics.contains("picket_notifications{state=\"pending\"} 0"), "{metrics}");
    // The secrets never reach the log.
    let log = d.log();
    assert!(!log.contains("s3cret-hmac-key") && !log.contains("R0UTINGKEY"), "{log}");
}

#[test]
fn a_real_alertmanager_shows_the_incident_active_then_resolved() {
    let app = App::start(503);
    let am_hook = Capture::start();
    let am = Alertmanager::start(&am_hook.url("/am"));
    let w = Workdir::new(&format!(
        r#"
[defaults]
every = "300ms"
alert = {{ after = 2, resolve_after = 1 }}

[notify.am]
kind = "alertmanager"
url = "http://{am}"

[route.critical]
notify = ["am"]

[[check]]
name = "api"
plugin = "http"
target = "{app}"
runbook = "https://wiki.example.com/runbooks/api"
"#,
        am = am.addr,
        app = app.server.url("/health"),
    ));
    let d = DaemonProc::start(&w.checks(), &w.store());
    let alert = eventually(SOON, "the alert in Alertmanager", || am.alerts().into_iter().find(|a| a["labels"]["check"] == "api"));
    assert_eq!(alert["labels"], json!({ "alertname": "PicketCheckFailing", "check": "api", "severity": "critical", "plugin": "http" }));
    assert_eq!(alert["status"]["state"], "active", "{alert}");
    assert_eq!(alert["annotations"]["runbook_url"], "https://wiki.example.com/runbooks/api");
    assert_eq!(alert["annotations"]["dedup_key"], "picket/api/1");
    // Alertmanager's own webhook fired for it.
    let firing = am_hook.wait_for(1, SOON).remove(0);
    assert_eq!(firing["status"], "firing");
    assert_eq!(firing["alerts"][0]["labels"]["check"], "api");

    app.set(200);
    eventually(SOON, "the alert to leave Alertmanager", || am.alerts().iter().all(|a| a["labels"]["check"] != "api").then_some(()));
    let resolved =
        eventually(SOON, "Alertmanager's resolved notification", || am_hook.bodies().into_iter().find(|b| b["status"] == "resolved"));
    assert_eq!(resolved["alerts"][0]["labels"]["check"], "api");
    assert_eq!(resolved["alerts"][0]["status"], "resolved");
    let n = d.settled_outbox(SOON);
    assert_eq!(n["counts"]["delivered"], 2, "{n}");
}

#[test]
fn email_goes_through_a_local_smtp_server_with_credentials() {
    let app = App::start(503);
    let smtp = Smtp::start();
    let w = Workdir::new("");
    std::fs::write(w.dir.path().join("smtp.pass"), "mail-pa55").unwrap();
    w.rewrite(&format!(
        r#"
[defaults]
every = "300ms"
alert = {{ after = 1, resolve_after = 1 }}

[notify.mail]
kind = "email"
server = "127.0.0.1"
port = {port}
tls = "none"
from = "picket <picket@example.com>"
to = ["ops@example.com", "Lead <lead@example.com>"]
username = "picket"
password = {{ file = "smtp.pass" }}

[route.critical]
notify = ["mail"]

[[check]]
name = "api"
plugin = "http"
target = "{app}"
runbook = "https://wiki.example.com/runbooks/api"
"#,
        port = smtp.addr.port(),
        app = app.server.url("/health"),
    ));
    let _d = DaemonProc::start(&w.checks(), &w.store());
    let mail = eventually(SOON, "a mail", || smtp.mails().into_iter().next());
    assert_eq!(mail.auth, Some(("picket".into(), "mail-pa55".into())));
    assert_eq!(mail.from, "<picket@example.com>");
    assert_eq!(mail.to, vec!["<ops@example.com>".to_string(), "<lead@example.com>".to_string()]);
    let data = mail.data.replace("\r\n", "\n");
    assert!(data.contains("Subject: [picket] [CRITICAL] api: "), "{data}");
    assert!(data.contains("Runbook:           https://wiki.example.com/runbooks/api"), "{data}");
    assert!(data.contains("Incident:          1 (picket/api/1)"), "{data}");
    app.set(200);
    let resolved = eventually(SOON, "the resolved mail", || smtp.mails().into_iter().nth(1));
    assert!(resolved.data.contains("Subject: [picket] [RESOLVED] api: "), "{}", resolved.data);
}

#[test]
fn email_upgrades_with_starttls_and_verifies_the_relays_certificate() {
    let app = App::start(503);
    let (tls, ca_pem) = picket_testkit::servers::tls_config(30);
    let smtp = Smtp::start_tls(tls);
    let w = Workdir::new("");
    std::fs::write(w.dir.path().join("relay-ca.pem"), ca_pem).unwrap();
    let checks = |ca: &str| {
        format!(
            r#"
[defaults]
every = "300ms"
alert = {{ after = 1, resolve_after = 1 }}

[notify.mail]
kind = "email"
server = "localhost"
port = {port}
from = "picket@example.com"
to = ["ops@example.com"]
username = "picket"
password = "relay-pa55"
{ca}

[route.critical]
notify = ["mail"]

[[check]]
name = "api"
plugin = "http"
target = "{app}"
"#,
            port = smtp.addr.port(),
            app = app.server.url("/health"),
        )
    };
    // Without the relay's CA the upgrade fails verification: nothing is sent, the
    // notification waits in the outbox with the reason.
    w.rewrite(&checks(""));
    let d = DaemonProc::start(&w.checks(), &w.store());
    let pending = eventually(SOON, "a failed attempt", || {
        let n = d.get("/api/v1/notifications?state=pending").json();
        n["notifications"].as_array().and_then(|r| r.first().cloned()).filter(|r| r["attempts"].as_u64() >= Some(1))
    });
    assert!(pending["last_error"].as_str().unwrap().to_lowercase().contains("certificate"), "{pending}");
    assert!(smtp.mails().is_empty());
    d.kill_hard();
    // With it: STARTTLS, then AUTH and the mail over the encrypted stream.
    w.rewrite(&checks("ca_file = \"relay-ca.pem\""));
    let _d = DaemonProc::start(&w.checks(), &w.store());
    let mail = eventually(SOON, "a mail over STARTTLS", || smtp.mails().into_iter().next());
    assert!(mail.tls, "sent before the upgrade");
    assert_eq!(mail.auth, Some(("picket".into(), "relay-pa55".into())));
    assert!(mail.data.contains("Subject: [picket] [CRITICAL] api: "), "{}", mail.data);
}

/// `[defaults]` and one webhook channel `hook` as the critical route; checks follow.
fn with_hook(every: &str, alert: &str, hook: &str) -> String {
    format!(
        "[defaults]\nevery = \"{every}\"\nalert = {{ {alert} }}\n\n[notify.hook]\nkind = \"webhook\"\nurl = \"{hook}\"\nretry_first = \"100ms\"\nretry_max = \"400ms\"\n\n[route.critical]\nnotify = [\"hook\"]\n"
    )
}

/// A check that fails, recovers, fails and recovers: two incidents, four notifications.
fn flapping_app_checks(hook: &str, app: &str) -> String {
    with_hook("200ms", "after = 1, resolve_after = 1, flap_history = 0", hook)
        + &format!("\n[[check]]\nname = \"api\"\nplugin = \"http\"\ntarget = \"{app}\"\n")
}

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
