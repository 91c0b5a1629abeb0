//! The built-in `postgres` plugin against real PostgreSQL clusters on loopback: every
//! authentication method, TLS, every metric, custom queries and every failure.

use std::time::Duration;

use picket::result::{CheckResult, Status};

use picket_testkit::daemon::eventually;
use picket_testkit::postgres::{CLEARTEXT_USER, MD5_USER, PgServer, SCRAM_USER, TRUST_USER};
use picket_testkit::servers::{closed_port, line_server, silent_listener};
use picket_testkit::{CheckFile, assert_status, plugins};

/// Runs one postgres check. The check file's directory holds one password file per
/// user (`scramuser.pw`, ...) and `bad.pw`, for `password = { file = ... }`.
async fn one(target: &str, extra: &str) -> CheckResult {
    let timeout = if extra.contains("timeout =") { "" } else { "timeout = \"5s\"\n" };
    let file = CheckFile::new(&format!("[[check]]\nname = \"db\"\nplugin = \"postgres\"\ntarget = \"{target}\"\n{timeout}{extra}\n"));
    for (user, pw) in [SCRAM_USER, MD5_USER, CLEARTEXT_USER, ("bad", "wrong-password")] {
        std::fs::write(file.dir.path().join(format!("{user}.pw")), pw).unwrap();
    }
    let plan = picket::config::load(&file.path(), plugins()).await.unwrap_or_else(|e| panic!("{e}"));
    picket::runner::Runner::new(plugins().clone(), 4).run_all(&plan.checks, &|_| {}).await.remove(0)
}

fn pw(user: &str) -> String {
    format!("password = {{ file = \"{user}.pw\" }}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_sha_256_and_every_metric() {
    let pg = PgServer::plain();
    let r = one(&pg.url(SCRAM_USER.0, "app", ""), &pw(SCRAM_USER.0)).await;
    assert_status(&r, Status::Ok);
    assert!(r.summary.starts_with("postgres 15") && r.summary.contains(" app: "), "{}", r.summary);
    let size = r.metric("db_size").unwrap().value;
    let actual: f64 = pg.sql("app", "SELECT pg_database_size('app')").parse().unwrap();
    assert!((size - actual).abs() / actual < 0.05, "{size} vs {actual}");
    assert!(r.metric("connections").unwrap().value >= 1.0);
    assert_eq!(r.metric("max_connections").unwrap().value, 20.0);
    let used = r.metric("connections_used").unwrap().value;
    assert!(used > 0.0 && used <= 100.0);
    for m in ["longest_query", "longest_idle_in_transaction", "connect_time"] {
        assert!(r.metric(m).is_some(), "missing {m}");
    }
    assert!(r.metric("cert_expires_days").is_none(), "sslmode=prefer against a server without TLS stays plain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_queries_and_idle_transactions_are_measured() {
    let pg = PgServer::plain();
    let mut busy = pg.session("app", "SELECT pg_sleep(30);");
    let mut idle = pg.session("app", "BEGIN; SELECT 1;");
    // Until the server itself shows both sessions past 2 s: the query running, the
    // transaction idle (psql may take a while to connect on a busy machine).
    let past_2s = "SELECT count(*) FILTER (WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(30)%' \
                                     AND clock_timestamp() - query_start >= interval '2.1 s') \
                   || ' ' || count(*) FILTER (WHERE state LIKE 'idle in transaction%' \
                                     AND clock_timestamp() - state_change >= interval '2.1 s') \
                   FROM pg_stat_activity WHERE datname = 'app'";
    tokio::task::spawn_blocking(move || {
        eventually(Duration::from_secs(30), "a query and an idle transaction older than 2 s in pg_stat_activity", || {
            (pg.sql("app", past_2s) == "1 1").then_some(())
        })
    })
    .await
    .unwrap();
    // The monitoring user has pg_monitor, so it sees other users' sessions.
    let r = one(
        &pg.url(TRUST_USER, "app", ""),
        "thresholds = { longest_query = { warn = \"1s\" }, longest_idle_in_transaction = { crit = \"2s\" } }",
    )
    .await;
    let _ = (busy.kill(), idle.kill(), busy.wait(), idle.wait());
    let q = r.metric("longest_query").unwrap().value;
    let i = r.metric("longest_idle_in_transaction").unwrap().value;
    assert!((2.0..30.0).contains(&q), "longest_query {q}");
    assert!((2.0..30.0).contains(&i), "longest_idle_in_transaction {i}");
    assert_status(&r, Status::Critical);
    assert!(r.summary.contains("longest_query ") && r.summary.contains("> warn 1s"), "{}", r.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn md5_cleartext_and_trust() {
    let pg = PgServer::plain();
    assert_status(&one(&pg.url(MD5_USER.0, "app", ""), &pw(MD5_USER.0)).await, Status::Ok);
    assert_status(&one(&pg.url(CLEARTEXT_USER.0, "app", ""), &pw(CLEARTEXT_USER.0)).await, Status::Ok);
    assert_status(&one(&pg.url(TRUST_USER, "app", ""), "").await, Status::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_unknown_database_and_missing_password() {
    let pg = PgServer::plain();
    for user in [SCRAM_USER.0, MD5_USER.0, CLEARTEXT_USER.0] {
        let r = one(&pg.url(user, "app", ""), &pw("bad")).await;
        assert_status(&r, Status::Critical);
        assert_eq!(r.summary, format!("authentication failed: password authentication failed for user \"{user}\" (28P01)"));
    }
    let r = one(&pg.url(TRUST_USER, "nope", ""), "").await;
    assert_status(&r, Status::Critical);
    assert_eq!(r.summary, "unknown database: database \"nope\" does not exist (3D000)");
    let r = one(&pg.url(SCRAM_USER.0, "app", ""), "").await;
    assert_status(&r, Status::Critical);
    assert_eq!(r.summary, "the server asks for a password (scram-sha-256) but the check has none: set `password`");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_on_size_and_connection_use() {
    let pg = PgServer::plain();
    let r = one(
        &pg.url(SCRAM_USER.0, "app", ""),
        &format!(
            "{}\nthresholds = {{ db_size = {{ warn = \"1MB\", crit = \"10GB\" }}, connections_used = {{ crit = \"1%\" }} }}",
            pw(SCRAM_USER.0)
        ),
    )
    .await;
    assert_status(&r, Status::Critical);
    assert!(
        r.summary.contains("> warn 1MB") && r.summary.contains("connections_used ") && r.summary.contains("> crit 1%"),
        "{}",
        r.summary
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_stat_statements_is_used_when_present_and_noted_when_absent() {
    let pg = PgServer::plain();
    let r = one(&pg.url(TRUST_USER, "postgres", ""), "").await;
    assert_status(&r, Status::Ok);
    assert!(r.summary.ends_with("; pg_stat_statements not installed"), "{}", r.summary);
    assert!(r.metric("slowest_statement_mean").is_none());
    let r = one(&pg.url(TRUST_USER, "app", ""), "").await;
    assert_status(&r, Status::Ok);
    assert!(r.metric("slowest_statement_mean").is_some(), "{r:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_queries_return_one_number_and_stay_read_only() {
    let pg = PgServer::plain();
    let target = pg.url(SCRAM_USER.0, "app", "");
    let auth = pw(SCRAM_USER.0);
    let r = one(
        &target,
        &format!(
            "{auth}\nquery = \"SELECT count(*) FROM jobs WHERE failed\"\nthresholds = {{ query_value = {{ warn = \"5\", crit = \"50\" }} }}"
        ),
    )
    .await;
    assert_status(&r, Status::Warning);
    assert_eq!(r.metric("query_value").unwrap().value, 20.0);
    assert!(r.summary.contains("query = 20") && r.summary.ends_with("query_value 20 > warn 5"), "{}", r.summary);

    for (q, why) in [
        ("SELECT 1, 2", "query must return one number: it returned 2 columns"),
        ("SELECT id FROM jobs", "query must return one number: it returned 200 rows"),
        ("SELECT 'abc'", "query must return one number: \"abc\" is not a number"),
        ("SELECT NULL", "query must return one number: it returned NULL"),
    ] {
        let r = one(&target, &format!("{auth}\nquery = \"{q}\"")).await;
        assert_status(&r, Status::Unknown);
        assert_eq!(r.summary, why);
    }
    let r = one(&target, &format!("{auth}\nquery = \"DELETE FROM jobs\"")).await;
    assert_status(&r, Status::Critical);
    assert_eq!(r.summary, "query failed: cannot execute DELETE in a read-only transaction (25006)");
    let r = one(&target, &format!("{auth}\nquery = \"SELECT 1; DROP TABLE jobs\"")).await;
    assert_status(&r, Status::Critical);
    assert!(r.summary.starts_with("query failed: cannot insert multiple commands into a prepared statement"), "{}", r.summary);
    assert_eq!(pg.sql("app", "SELECT count(*) FROM jobs"), "200", "nothing was deleted or dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_sslmode_require() {
    let pg = PgServer::tls();
    let ca = format!("tls = {{ ca_file = {:?} }}", pg.ca.as_ref().unwrap().display().to_string());
    let target = format!("postgres://{}@localhost:{}/app?sslmode=require", SCRAM_USER.0, pg.port);
    let r = one(&target, &format!("{}\n{ca}", pw(SCRAM_USER.0))).await;
    assert_status(&r, Status::Ok);
    let days = r.metric("cert_expires_days").unwrap().value;
    assert!((44.0..=45.0).contains(&days), "{days}");
    // Verification is on by default.
    let r = one(&target, &pw(SCRAM_USER.0)).await;
    assert_status(&r, Status::Critical);
    assert!(r.summary.contains("TLS with localhost:") && r.summary.contains("UnknownIssuer"), "{}", r.summary);
    // TLS required but the server has none.
    let plain = PgServer::plain();
    let r = one(&plain.url(TRUST_USER, "app", "?sslmode=require"), "").await;
    assert_status(&r, Status::Critical);
    assert_eq!(r.summary, "server does not offer TLS, but sslmode=require requires it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_silent_and_not_postgres() {
    let port = closed_port();
    let r = one(&format!("postgres://app@127.0.0.1:{port}/app"), "").await;
    assert_status(&r, Status::Critical);
    assert_eq!(r.summary, format!("127.0.0.1:{port}: connection refused"));

    let (addr, _) = silent_listener();
    let r = one(&format!("postgres://app@{addr}/app"), "timeout = \"800ms\"").await;
    assert_status(&r, Status::Critical);
    assert_eq!(r.summary, "SSLRequest: no reply (timed out)");

    let http = line_server("HTTP/1.1 400 Bad Request\r\n\r\n", false);
    let r = one(&format!("postgres://app@{http}/app?sslmode=disable"), "").await;
    assert_status(&r, Status::Unknown);
    assert!(r.summary.starts_with("authentication: protocol error: message 'H' with length"), "{}", r.summary);
    assert!(r.summary.ends_with("is this a PostgreSQL server?"), "{}", r.summary);
}
