//! Notification providers through a real `picket run`: exact webhook, Slack and
//! PagerDuty payloads (and the HMAC signature) at in-process receivers, a real
//! Alertmanager, and e-mail to a local SMTP server, plain and with STARTTLS. The outbox's
//! durability is in `outbox`, recovery and dependencies in `alerting`; routing timers
//! (cooldown, reminders, escalation, inhibition, silences) are tested with a hand-moved
//! clock in the core's `notify::router`.

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use picket_testkit::alertmanager::Alertmanager;
use picket_testkit::capture::{Capture, Smtp, header};
use picket_testkit::daemon::{DaemonProc, Workdir, eventually};

use crate::support::{App, SOON};

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
