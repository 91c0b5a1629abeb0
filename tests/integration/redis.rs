//! The built-in `redis` plugin against real `redis-server` processes on loopback.

use picket::result::{CheckResult, Status};

use picket_testkit::redis::RedisServer;
use picket_testkit::servers::{closed_port, line_server, silent_listener};
use picket_testkit::{CheckFile, assert_status, plugins};

/// Runs one redis check; `extra` is appended to the [[check]] table. The check file's
/// directory holds `pw` (the right password) and `bad-pw`, for `{ file = ... }` refs.
async fn one(target: &str, extra: &str) -> CheckResult {
    let timeout = if extra.contains("timeout =") { "" } else { "timeout = \"2s\"\n" };
    let file = CheckFile::new(&format!("[[check]]\nname = \"redis\"\nplugin = \"redis\"\ntarget = \"{target}\"\n{timeout}{extra}\n"));
    std::fs::write(file.dir.path().join("pw"), "s3cret-redis-pw\n").unwrap();
    std::fs::write(file.dir.path().join("bad-pw"), "not-the-password").unwrap();
    let plan = picket::config::load(&file.path(), plugins()).await.unwrap_or_else(|e| panic!("{e}"));
    picket::runner::Runner::new(plugins().clone(), 4).run_all(&plan.checks, &|_| {}).await.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_and_every_info_metric() {
    let r = RedisServer::start("maxmemory 100mb\n");
    r.command(None, "SET greeting hello");
    let res = one(&r.url("redis"), "").await;
    assert_status(&res, Status::Ok);
    assert!(res.summary.starts_with("PONG in ") && res.summary.contains("; redis 7."), "{}", res.summary);
    assert!(res.summary.contains(" master, 1 clients"), "{}", res.summary);
    for m in [
        "ping_time",
        "used_memory",
        "used_memory_pct",
        "connected_clients",
        "blocked_clients",
        "connected_replicas",
        "rdb_last_save_age",
        "rdb_last_bgsave_failed",
        "evicted_keys",
        "rejected_connections",
    ] {
        assert!(res.metric(m).is_some(), "missing {m}: {res:#?}");
    }
    let pct = res.metric("used_memory_pct").unwrap().value;
    let used = res.metric("used_memory").unwrap().value;
    assert!((pct - used * 100.0 / (100 << 20) as f64).abs() < 1e-9, "{pct}% of maxmemory 100mb, used {used}");
    assert!(res.summary.ends_with(&format!("; memory {pct:.1}% of maxmemory")), "{}", res.summary);
    assert_eq!(res.metric("connected_replicas").unwrap().value, 0.0);
    assert_eq!(res.metric("rdb_last_bgsave_failed").unwrap().value, 0.0);
    assert!(res.metric("cert_expires_days").is_none());
}

/// Issue 21: with `maxmemory 0` (Redis's default) Redis grows until the host runs out, so
/// `used_memory_pct` is of the host's memory (`total_system_memory`), and the summary says
/// so; before, it was not reported and a threshold on it never fired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn used_memory_pct_is_of_system_memory_without_maxmemory() {
    let r = RedisServer::start("");
    let info = r.command(None, "INFO memory");
    let field = |name: &str| -> f64 {
        let line = info.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).unwrap_or_else(|| panic!("no {name} in {info}"));
        line.trim().parse().unwrap()
    };
    assert_eq!(field("maxmemory"), 0.0, "{info}");
    let total = field("total_system_memory");
    assert!(total > 0.0, "{info}");
    let res = one(&r.url("redis"), "thresholds = { used_memory_pct = { warn = \"80%\" } }").await;
    assert_status(&res, Status::Ok);
    let pct = res.metric("used_memory_pct").unwrap_or_else(|| panic!("{res:#?}")).value;
    let used = res.metric("used_memory").unwrap().value;
    assert!((pct - used * 100.0 / total).abs() < 1e-9, "{pct}% vs used {used} of {total}");
    assert!(res.summary.ends_with(&format!("; memory {pct:.1}% of total_system_memory (maxmemory is 0)")), "{}", res.summary);
    assert_eq!(res.diagnostics, None, "the threshold had its metric");

    // A limit set at run time is the one used from the next run on.
    assert!(r.command(None, "CONFIG SET maxmemory 1gb").starts_with("+OK"));
    let res = one(&r.url("redis"), "").await;
    let pct = res.metric("used_memory_pct").unwrap().value;
    assert!((pct - res.metric("used_memory").unwrap().value * 100.0 / (1u64 << 30) as f64).abs() < 1e-9, "{pct}");
    assert!(res.summary.ends_with("% of maxmemory"), "{}", res.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_apply_to_info_metrics() {
    let r = RedisServer::start("maxmemory 100mb\n");
    let res = one(&r.url("redis"), "thresholds = { connected_clients = { warn = \"0\" }, used_memory = { crit = \"1KB\" } }").await;
    assert_status(&res, Status::Critical);
    assert!(res.summary.contains("connected_clients 1 > warn 0"), "{}", res.summary);
    assert!(res.summary.contains("used_memory ") && res.summary.contains("> crit 1KB"), "{}", res.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requirepass_with_a_password_file() {
    let r = RedisServer::start("requirepass s3cret-redis-pw\n");
    assert_status(&one(&r.url("redis"), "password = { file = \"pw\" }").await, Status::Ok);
    let res = one(&r.url("redis"), "password = { file = \"bad-pw\" }").await;
    assert_status(&res, Status::Critical);
    assert_eq!(res.summary, "authentication failed (WRONGPASS) for user default");
    let res = one(&r.url("redis"), "").await;
    assert_status(&res, Status::Critical);
    assert_eq!(res.summary, "authentication required (NOAUTH): set `password` in the check");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_user_and_password() {
    let r = RedisServer::start("user default off\nuser monitor on >s3cret-redis-pw ~* &* +@all\n");
    let target = format!("redis://monitor@127.0.0.1:{}", r.port);
    assert_status(&one(&target, "password = { file = \"pw\" }").await, Status::Ok);
    let res = one(&target, "password = { file = \"bad-pw\" }").await;
    assert_eq!(res.summary, "authentication failed (WRONGPASS) for user monitor");
    // The user can also be a param instead of part of the URL.
    assert_status(&one(&r.url("redis"), "user = \"monitor\"\npassword = { file = \"pw\" }").await, Status::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_a_database() {
    let r = RedisServer::start("databases 4\n");
    assert_status(&one(&format!("{}/3", r.url("redis")), "").await, Status::Ok);
    let res = one(&r.url("redis"), "db = 9").await;
    assert_status(&res, Status::Critical);
    assert!(res.summary.starts_with("SELECT 9 failed: ERR DB index is out of range"), "{}", res.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_verifies_the_certificate_and_reports_its_expiry() {
    let (r, files) = RedisServer::start_tls("", 25);
    let target = format!("rediss://localhost:{}", r.port);
    let ca = format!("tls = {{ ca_file = {:?} }}", files.ca.display().to_string());
    let res = one(&target, &format!("{ca}\nthresholds = {{ cert_expires_days = {{ warn = \"30\" }} }}")).await;
    assert_status(&res, Status::Warning);
    let days = res.metric("cert_expires_days").unwrap().value;
    assert!((24.0..=25.0).contains(&days), "{days}");
    // Without the CA: refused, and the message says it is the certificate.
    let res = one(&target, "").await;
    assert_status(&res, Status::Critical);
    assert!(
        res.summary.starts_with(&format!("TLS with localhost:{} failed: ", r.port)) && res.summary.contains("UnknownIssuer"),
        "{}",
        res.summary
    );
    // The explicit opt-out.
    assert_status(&one(&target, "tls = { insecure = true }").await, Status::Ok);
}

/// A unicode host name is granted, resolved, connected to and verified under TLS in one
/// form, its IDNA one: here fullwidth letters, whose IDNA form is `localhost` (so no DNS
/// server is asked). Before the host parsed targets for plugins, the plugin connected to
/// the name as written, which the grant (made from the IDNA form) did not cover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unicode_host_is_granted_and_connected_in_its_idna_form() {
    let (r, files) = RedisServer::start_tls("", 25);
    let target = format!("rediss://ＬＯＣＡＬＨＯＳＴ:{}", r.port);
    let file = CheckFile::new(&format!("[[check]]\nname = \"redis\"\nplugin = \"redis\"\ntarget = \"{target}\"\n"));
    let plan = picket::config::load(&file.path(), plugins()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.checks[0].grants.to_string(), format!("tcp:localhost:{}", r.port));
    assert_eq!(plan.checks[0].endpoint.as_ref().unwrap().host, "localhost");
    let ca = format!("tls = {{ ca_file = {:?} }}", files.ca.display().to_string());
    let res = one(&target, &ca).await;
    assert_status(&res, Status::Ok);
    assert!(res.metric("cert_expires_days").is_some(), "{res:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_against_a_plain_server_fails_clearly() {
    let r = RedisServer::start("");
    let res = one(&format!("rediss://127.0.0.1:{}", r.port), "tls = { insecure = true }").await;
    assert_status(&res, Status::Critical);
    assert!(res.summary.starts_with(&format!("TLS with 127.0.0.1:{} failed: ", r.port)), "{}", res.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_silent_and_not_redis() {
    let port = closed_port();
    let res = one(&format!("redis://127.0.0.1:{port}"), "").await;
    assert_status(&res, Status::Critical);
    assert_eq!(res.summary, format!("127.0.0.1:{port}: connection refused"));

    let (addr, _) = silent_listener();
    let file_timeout = "timeout = \"800ms\"";
    let res = one(&format!("redis://{addr}"), file_timeout).await;
    assert_status(&res, Status::Critical);
    assert_eq!(res.summary, "PING: no reply (timed out)");

    let http = line_server("HTTP/1.1 400 Bad Request\r\n\r\n", false);
    let res = one(&format!("redis://{http}"), "").await;
    assert_status(&res, Status::Unknown);
    assert!(res.summary.starts_with("PING: protocol error: not a RESP reply"), "{}", res.summary);
}
