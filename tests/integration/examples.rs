//! The plugin examples under `examples/`, built from source with their pinned toolchains
//! (installed by `cargo xtask test`) and run through the real `picket` binary against
//! local servers: an ok outcome, a failing one, and a host the check did not grant.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use picket_testkit::capture::Smtp;
use picket_testkit::root;
use picket_testkit::servers::{HttpServer, Reply, tls_config};
use picket_testkit::toml_path;
use picket_testkit::toolchains::{CheckRun, build, metric};

fn example(path: &str) -> PathBuf {
    root().join("examples").join(path)
}

/// A feed whose `updated_at` is `age_s` seconds old at each request.
fn feed(age_s: i64) -> HttpServer {
    HttpServer::start(move |_| {
        let t = chrono::Utc::now() - chrono::Duration::seconds(age_s);
        Reply::ok(&format!(r#"{{"items": 3, "meta": {{"updated_at": "{}"}}}}"#, t.to_rfc3339()))
    })
}

#[test]
fn the_python_freshness_example_builds_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = build(&example("python/freshness"), dir.path());
    let (fresh, stale, elsewhere) = (feed(30), feed(3600), feed(0));
    let checks = dir.path().join("checks.toml");
    std::fs::write(
        &checks,
        format!(
            r#"
[defaults]
timeout = "10s"

[[check]]
name = "fresh"
plugin = {wasm}
target = "{fresh}"
max_age = "10m"
field = "meta.updated_at"
thresholds = {{ age = {{ warn = "5m" }} }}

[[check]]
name = "stale"
plugin = {wasm}
target = "{stale}"
max_age = "10m"
field = "meta.updated_at"

[[check]]
name = "sneaky"
plugin = {wasm}
target = "{fresh}"
url = "{elsewhere}"
max_age = "10m"
field = "meta.updated_at"
"#,
            wasm = toml_path(&wasm),
            fresh = fresh.url("/feed"),
            stale = stale.url("/feed"),
            elsewhere = elsewhere.url("/feed"),
        ),
    )
    .unwrap();
    let run = CheckRun::of(&checks);
    let by = |n: &str| run.by(n);
    let fresh_r = by("fresh");
    assert_eq!(fresh_r["status"], "ok", "{fresh_r}");
    let age = metric(&fresh_r, "age").unwrap();
    assert!((29.0..60.0).contains(&age), "{fresh_r}");
    let stale_r = by("stale");
    assert_eq!(stale_r["status"], "critical", "{stale_r}");
    assert!(stale_r["summary"].as_str().unwrap().starts_with("meta.updated_at is 36"), "{stale_r}");
    // The plugin tried a host the check did not grant: refused before any I/O, reported.
    let sneaky = by("sneaky");
    assert_eq!(sneaky["status"], "unknown", "{sneaky}");
    assert!(sneaky["summary"].as_str().unwrap().contains("denied"), "{sneaky}");
    assert_eq!(elsewhere.count(), 0);
    assert_eq!(run.code, 2, "a critical result");
}

#[test]
fn the_javascript_queue_depth_example_builds_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = build(&example("js/queue-depth"), dir.path());
    let stats = |waiting: u32| {
        HttpServer::start(move |_| Reply::ok(&format!(r#"{{"queues": {{"default": {{"waiting": {waiting}, "oldest_s": 42.5}}}}}}"#)))
    };
    let (calm, backlog, elsewhere) = (stats(12), stats(5000), stats(0));
    let checks = dir.path().join("checks.toml");
    let check = |name: &str, target: &str, extra: &str| {
        format!(
            "[[check]]\nname = \"{name}\"\nplugin = {}\ntarget = \"{target}\"\ndepth = \"queues.default.waiting\"\noldest = \"queues.default.oldest_s\"\nthresholds = {{ depth = {{ warn = \"100\", crit = \"1000\" }} }}\n{extra}\n",
            toml_path(&wasm)
        )
    };
    std::fs::write(
        &checks,
        [
            check("calm", &calm.url("/stats"), ""),
            check("backlog", &backlog.url("/stats"), ""),
            check("sneaky", &calm.url("/stats"), &format!("url = \"{}\"", elsewhere.url("/stats"))),
            check("missing", &calm.url("/stats"), "").replace("queues.default.waiting", "queues.urgent.waiting"),
        ]
        .concat(),
    )
    .unwrap();
    let run = CheckRun::of(&checks);
    let by = |n: &str| run.by(n);
    let calm_r = by("calm");
    assert_eq!((calm_r["status"].as_str(), calm_r["summary"].as_str()), (Some("ok"), Some("12 jobs waiting, oldest 43s")), "{calm_r}");
    assert_eq!((metric(&calm_r, "depth"), metric(&calm_r, "oldest_age")), (Some(12.0), Some(42.5)));
    let backlog_r = by("backlog");
    assert_eq!(backlog_r["status"], "critical", "the TOML threshold decides: {backlog_r}");
    let missing = by("missing");
    assert_eq!(missing["status"], "critical");
    assert!(missing["summary"].as_str().unwrap().contains("no queues.urgent.waiting in the stats"), "{missing}");
    let sneaky = by("sneaky");
    assert_eq!(sneaky["status"], "unknown", "{sneaky}");
    assert!(sneaky["summary"].as_str().unwrap().contains("denied"), "{sneaky}");
    assert_eq!(elsewhere.count(), 0);
}

/// A TCP listener that counts connections and says nothing.
fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            count.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    (addr, seen)
}

/// A server that greets like an SMTP server and then goes quiet on EHLO with a 5xx.
fn grumpy_smtp() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.write_all(b"220 grumpy ESMTP\r\n");
            let mut buf = [0u8; 256];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"554 go away\r\n");
        }
    });
    addr
}

#[test]
fn the_c_smtp_example_builds_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = build(&example("c/smtp"), dir.path());
    let plain = Smtp::start();
    let (tls, ca_pem) = tls_config(30);
    let secure = Smtp::start_tls(tls);
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let grumpy = grumpy_smtp();
    let (elsewhere, connections) = counting_listener();
    let check = |name: &str, target: &str, extra: &str| {
        format!("[[check]]\nname = \"{name}\"\nplugin = {}\ntarget = \"{target}\"\n{extra}\n", toml_path(&wasm))
    };
    let (plain_at, secure_at) = (format!("localhost:{}", plain.addr.port()), format!("localhost:{}", secure.addr.port()));
    let ca_line = format!("tls = {{ ca_file = {} }}", toml_path(&ca));
    let checks = dir.path().join("checks.toml");
    std::fs::write(
        &checks,
        [
            check("plain", &plain_at, "require = [\"8BITMIME\", \"auth\"]\nexpect = \"ESMTP\""),
            check("no-size", &plain_at, "require = [\"SIZE\"]"),
            check("starttls", &secure_at, &format!("starttls = true\nrequire = [\"STARTTLS\"]\n{ca_line}\nthresholds = {{ cert_expiry = {{ warn = \"21\", crit = \"7\" }} }}")),
            check("untrusted", &secure_at, "starttls = true"),
            check("grumpy", &grumpy, ""),
            check("sneaky", &plain_at, &format!("server = \"{elsewhere}\"")),
            check("sizeless", &plain_at, "thresholds = { max_size = { warn = \"10MB\" } }"),
        ]
        .concat(),
    )
    .unwrap();
    let run = CheckRun::of(&checks);
    let by = |n: &str| run.by(n);

    let plain_r = by("plain");
    assert_eq!(plain_r["status"], "ok", "{plain_r}");
    assert_eq!(plain_r["summary"], "test ESMTP; offers AUTH 8BITMIME", "{plain_r}");
    assert!(metric(&plain_r, "banner_time").unwrap() < 5.0 && metric(&plain_r, "response_time").is_some(), "{plain_r}");

    let no_size = by("no-size");
    assert_eq!((no_size["status"].as_str(), no_size["summary"].as_str()), (Some("critical"), Some("does not offer SIZE")), "{no_size}");
    // The transcript is kept with the failure.
    assert!(no_size["diagnostics"].as_str().unwrap().contains("> EHLO picket.invalid\n< 250-test\n"), "{no_size}");

    // STARTTLS against a private CA: the host verified the certificate, the plugin reports its expiry.
    let tls_r = by("starttls");
    assert_eq!(tls_r["status"], "ok", "{tls_r}");
    let days = metric(&tls_r, "cert_expiry").unwrap();
    assert!((29.0..=30.0).contains(&days), "{tls_r}");
    assert!(tls_r["summary"].as_str().unwrap().ends_with("; TLS, certificate valid 30 more days"), "{tls_r}");
    let untrusted = by("untrusted");
    assert_eq!(untrusted["status"], "critical", "{untrusted}");
    assert!(untrusted["summary"].as_str().unwrap().starts_with("STARTTLS: tls: "), "{untrusted}");

    let grumpy_r = by("grumpy");
    assert_eq!(
        (grumpy_r["status"].as_str(), grumpy_r["summary"].as_str()),
        (Some("critical"), Some("EHLO answered 554 go away")),
        "{grumpy_r}"
    );

    // The plugin tried an address the check did not grant: refused before any connection.
    let sneaky = by("sneaky");
    assert_eq!(sneaky["status"], "unknown", "{sneaky}");
    assert!(sneaky["summary"].as_str().unwrap().contains("denied"), "{sneaky}");
    assert_eq!(connections.load(Ordering::SeqCst), 0);

    // The plugin declares when max_size is reported (pk_info_metric_when): a threshold on it
    // against a server without SIZE says so instead of passing in silence.
    let sizeless = by("sizeless");
    assert_eq!(sizeless["status"], "unknown", "{sizeless}");
    assert!(
        sizeless["diagnostics"].as_str().unwrap().contains("the plugin reports it only when the server offers SIZE with a limit"),
        "{sizeless}"
    );

    // And the shape of `require` (pk_shape_node, pk_shape_items): a list of strings.
    let typed = dir.path().join("typed.toml");
    std::fs::write(&typed, check("typed", &plain_at, "require = [\"SIZE\", 8]")).unwrap();
    let out = picket_testkit::picket_run(&["validate", "-c", typed.to_str().unwrap()], None);
    assert_eq!(out.code, 78, "{}", out.stderr);
    assert!(out.stderr.contains(":5:20: check \"typed\", field `require[1]`: expected a string, found an integer"), "{}", out.stderr);
}
