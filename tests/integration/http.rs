//! The built-in `http` plugin against in-process servers on 127.0.0.1:0.

use std::time::Duration;

use picket::result::{Failure, Status};

use picket_testkit::servers::{closed_port, tls_config};
use picket_testkit::{HttpServer, Reply, assert_status, run_toml};

fn check(target: &str, extra: &str) -> String {
    format!("[[check]]\nname = \"web\"\nplugin = \"http\"\ntarget = \"{target}\"\ntimeout = \"2s\"\n{extra}\n")
}

async fn one(target: &str, extra: &str) -> picket::result::CheckResult {
    run_toml(&check(target, extra)).await.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_json_endpoint_is_ok_with_metrics() {
    let s = HttpServer::start(|_| Reply::ok(r#"{"status":"healthy","checks":{"db":{"ok":true}}}"#));
    let r = one(&s.url("/health"), r#"expect = { status = 200, json = { status = "healthy", "checks.db.ok" = true } }"#).await;
    assert_status(&r, Status::Ok);
    assert!(r.summary.starts_with("HTTP 200 in "), "{}", r.summary);
    assert_eq!(r.metric("status_code").unwrap().value, 200.0);
    assert_eq!(r.metric("body_bytes").unwrap().value, 48.0);
    assert!(r.metric("response_time").unwrap().value > 0.0);
    assert!(r.metric("cert_expires_days").is_none(), "plain http has no certificate");
    assert_eq!(r.diagnostics, None, "ok results keep no diagnostics");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_status_is_critical_with_a_body_excerpt() {
    let s = HttpServer::start(|_| Reply::status(503, "upstream down"));
    let r = one(&s.url("/health"), "").await;
    assert_status(&r, Status::Critical);
    assert_eq!(r.summary, "HTTP 503: status 503 (expected 200-299)");
    assert!(r.diagnostics.as_deref().unwrap().contains("upstream down"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_and_classes_are_accepted() {
    let s = HttpServer::start(|_| Reply::status(204, ""));
    assert_status(&one(&s.url("/"), "expect = { status = [200, 204] }").await, Status::Ok);
    assert_status(&one(&s.url("/"), "expect = { status = \"2xx\" }").await, Status::Ok);
    let r = one(&s.url("/"), "expect = { status = \"300-399\" }").await;
    assert_eq!(r.summary, "HTTP 204: status 204 (expected 300-399)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_substring_and_regex_mismatches_are_critical() {
    let s = HttpServer::start(|_| Reply::ok("version=1.2.3 state=draining"));
    let r = one(&s.url("/"), r#"expect = { body = "state=serving", body_regex = "version=2\\." }"#).await;
    assert_status(&r, Status::Critical);
    assert_eq!(r.summary, r#"HTTP 200: body does not contain "state=serving"; body does not match /version=2\./"#);
    let r = one(&s.url("/"), r#"expect = { body = "draining", body_regex = "version=1\\.\\d+" }"#).await;
    assert_status(&r, Status::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_mismatch_names_the_field() {
    let s = HttpServer::start(|_| Reply::ok(r#"{"status":"degraded","queue":{"depth":12}}"#));
    let r = one(&s.url("/"), r#"expect = { json = { status = "healthy", queue = { depth = 12 }, missing = 1 } }"#).await;
    assert_status(&r, Status::Critical);
    assert_eq!(r.summary, r#"HTTP 200: json status = "degraded" (expected "healthy"); json missing absent (expected 1)"#);
    let s = HttpServer::start(|_| Reply::ok("<html>"));
    let r = one(&s.url("/"), r#"expect = { json = { status = "healthy" } }"#).await;
    assert!(r.summary.starts_with("HTTP 200: body is not JSON"), "{}", r.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_headers_and_body_are_sent() {
    let s = HttpServer::start(|req| {
        let token = req.headers.iter().find(|(k, _)| k == "x-token").map(|(_, v)| v.as_str()).unwrap_or("");
        Reply::ok(&format!("{} {} {}", req.method, token, req.body))
    });
    let r = one(&s.url("/"), "method = \"post\"\nheaders = { X-Token = \"abc\" }\nbody = \"ping\"\nexpect = { body = \"POST abc ping\" }")
        .await;
    assert_status(&r, Status::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_past_the_timeout_is_critical() {
    let s = HttpServer::start(|_| Reply::ok("late").delayed(Duration::from_secs(3)));
    let r = run_toml(&format!("[[check]]\nname = \"slow\"\nplugin = \"http\"\ntarget = \"{}\"\ntimeout = \"600ms\"\n", s.url("/")))
        .await
        .remove(0);
    assert_status(&r, Status::Critical);
    assert!(r.summary.contains("no response within"), "{}", r.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_time_thresholds_apply() {
    let s = HttpServer::start(|_| Reply::ok("ok").delayed(Duration::from_millis(300)));
    let r = one(&s.url("/"), "thresholds = { response_time = { warn = \"100ms\", crit = \"5s\" } }").await;
    assert_status(&r, Status::Warning);
    assert!(r.summary.contains("response_time") && r.summary.ends_with("> warn 100ms"), "{}", r.summary);
}

/// Issue 21: a threshold on a metric the run did not report is never skipped in silence.
/// `cert_expires_days` comes only from https; on plain http its threshold makes the check
/// `unknown` by default, or what `missing` says, and the diagnostics name the metric and
/// the plugin's condition for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threshold_on_a_metric_the_run_did_not_report_is_named_and_judged_by_missing() {
    let s = HttpServer::start(|_| Reply::ok("ok"));
    let note = "metric `cert_expires_days` was not reported (the plugin reports it only for https targets), \
                so its threshold was not evaluated; missing = ";
    let r = one(&s.url("/"), "thresholds = { cert_expires_days = { warn = \"30\" } }").await;
    assert_status(&r, Status::Unknown);
    assert!(r.summary.ends_with("; cert_expires_days not reported (missing = unknown)"), "{}", r.summary);
    assert_eq!(r.diagnostics.as_deref(), Some(format!("{note}\"unknown\"").as_str()));
    let r = one(&s.url("/"), "thresholds = { cert_expires_days = { warn = \"30\", missing = \"ok\" } }").await;
    assert_status(&r, Status::Ok);
    assert_eq!(r.diagnostics.as_deref(), Some(format!("{note}\"ok\"").as_str()), "ok, and still said");
    let r = one(&s.url("/"), "thresholds = { cert_expires_days = { crit = \"7\", missing = \"warning\" } }").await;
    assert_status(&r, Status::Warning);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_critical() {
    let port = closed_port();
    let r = one(&format!("http://127.0.0.1:{port}/health"), "").await;
    assert_status(&r, Status::Critical);
    assert_eq!(r.summary, format!("GET http://127.0.0.1:{port}/health: http://127.0.0.1:{port}/health: connection refused"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_unless_asked() {
    let target = HttpServer::start(|_| Reply::ok("landed"));
    let to = target.url("/landing");
    let s = HttpServer::start(move |_| Reply::redirect(&to));
    let r = one(&s.url("/"), "").await;
    assert_status(&r, Status::Critical);
    assert_eq!(r.summary, "HTTP 302: status 302 (expected 200-299)");
    assert_eq!(target.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_a_host_not_granted_is_refused() {
    let other = HttpServer::start(|_| Reply::ok("elsewhere"));
    let to = other.url("/steal");
    let s = HttpServer::start(move |_| Reply::redirect(&to));
    let r = one(&s.url("/"), "follow_redirects = true").await;
    assert_status(&r, Status::Unknown);
    assert_eq!(r.failure, Some(Failure::Denied(format!("http redirect from {} to {}", s.url("/"), other.url("/steal")))));
    assert_eq!(other.count(), 0, "the redirect target must never be contacted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_within_the_grant_are_followed_when_asked() {
    let s = HttpServer::start(|req| if req.path == "/" { Reply::redirect("/health") } else { Reply::ok("here") });
    let r = one(&s.url("/"), "follow_redirects = true\nexpect = { body = \"here\" }").await;
    assert_status(&r, Status::Ok);
    // Or granted explicitly with `allow`.
    let other = HttpServer::start(|_| Reply::ok("granted elsewhere"));
    let to = other.url("/x");
    let s2 = HttpServer::start(move |_| Reply::redirect(&to));
    let r = one(&s2.url("/"), &format!("follow_redirects = true\nallow = [\"http:{}\"]", other.url("/"))).await;
    assert_status(&r, Status::Ok);
    assert_eq!(other.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_reports_days_until_the_certificate_expires() {
    let (config, ca_pem) = tls_config(20);
    let s = HttpServer::start_tls(config, |_| Reply::ok("secure"));
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let target = format!("https://localhost:{}/", s.addr.port());
    let tls = format!("tls = {{ ca_file = {:?} }}", ca.display().to_string());
    let r = one(&target, &format!("{tls}\nthresholds = {{ cert_expires_days = {{ warn = \"30\", crit = \"7\" }} }}")).await;
    assert_status(&r, Status::Warning);
    let days = r.metric("cert_expires_days").unwrap().value;
    assert!((19.0..=20.0).contains(&days), "{days}");
    assert!(r.summary.ends_with("; cert_expires_days 20 days < warn 30"), "{}", r.summary);

    // Without the CA, verification fails: critical, and says it is about TLS.
    let r = one(&target, "").await;
    assert_status(&r, Status::Critical);
    assert!(r.summary.to_lowercase().contains("certificate"), "{}", r.summary);
    // An explicit opt-out skips verification and still reports the expiry.
    let r = one(&target, "tls = { insecure = true }").await;
    assert_status(&r, Status::Ok);
    assert!(r.metric("cert_expires_days").is_some());
}
