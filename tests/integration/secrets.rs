//! Secrets never appear in any output: every format, `validate`, error messages and
//! trace-level logs are grepped for the password, for right and wrong passwords alike.

use picket_testkit::postgres::{PgServer, SCRAM_USER};
use picket_testkit::redis::RedisServer;
use picket_testkit::{CheckFile, picket};

const WRONG: &str = "Wr0ng-but-s3cret-value";

#[test]
fn passwords_never_reach_output_logs_or_errors() {
    let redis = RedisServer::start("requirepass env-Secret-9f3a\n");
    let pg = PgServer::plain();
    let file = CheckFile::new(&format!(
        r#"
[[check]]
name = "redis-env"
plugin = "redis"
target = "redis://127.0.0.1:{rport}"
password = {{ env = "PICKET_TEST_REDIS_PASSWORD" }}

[[check]]
name = "redis-wrong-in-url"
plugin = "redis"
target = "redis://:{WRONG}@127.0.0.1:{rport}"

[[check]]
name = "pg-file"
plugin = "postgres"
target = "postgres://{user}@127.0.0.1:{pport}/app"
password = {{ file = "pg.pw" }}

[[check]]
name = "pg-wrong"
plugin = "postgres"
target = "postgres://{user}@127.0.0.1:{pport}/app"
password = "{WRONG}"
"#,
        rport = redis.port,
        pport = pg.port,
        user = SCRAM_USER.0
    ));
    std::fs::write(file.dir.path().join("pg.pw"), format!("{}\n", SCRAM_USER.1)).unwrap();
    let secrets = ["env-Secret-9f3a", WRONG, SCRAM_USER.1];
    let path = file.path();
    let path = path.to_str().unwrap();

    let mut runs: Vec<Vec<&str>> =
        ["human", "json", "junit", "tap", "nagios"].iter().map(|f| vec!["check", "-c", path, "--format", f]).collect();
    runs.push(vec!["validate", "-c", path]);
    runs.push(vec!["validate", "-c", path, "--format", "json"]);
    for args in runs {
        let out = picket().args(&args).env("PICKET_TEST_REDIS_PASSWORD", "env-Secret-9f3a").env("RUST_LOG", "trace").output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        for s in secrets {
            assert!(!text.contains(s), "{args:?} printed a secret:\n{text}");
        }
        if args[0] == "check" && args[4] == "json" {
            let v: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
            let status = |i: usize| v["checks"][i]["status"].as_str().unwrap().to_string();
            assert_eq!([status(0), status(1), status(2), status(3)], ["ok", "critical", "ok", "critical"], "{v:#}");
            assert_eq!(v["checks"][1]["target"], format!("redis://:***@127.0.0.1:{}", redis.port));
        }
    }

    // A missing variable is a config error that names it, not its (absent) value.
    let out = picket().args(["validate", "-c", path]).env_remove("PICKET_TEST_REDIS_PASSWORD").output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("check \"redis-env\", field `password`: environment variable PICKET_TEST_REDIS_PASSWORD is not set"), "{err}");
}
