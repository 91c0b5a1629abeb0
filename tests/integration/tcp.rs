//! The built-in `tcp` plugin: connect, send/expect dialogues, refusals and silence.

use picket::result::Status;

use picket_testkit::servers::{closed_port, line_server, silent_listener};
use picket_testkit::{assert_status, run_toml};

async fn one(target: &str, extra: &str) -> picket::result::CheckResult {
    run_toml(&format!("[[check]]\nname = \"port\"\nplugin = \"tcp\"\ntarget = \"{target}\"\ntimeout = \"1s\"\n{extra}\n")).await.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_only() {
    let addr = line_server("hello\r\n", true);
    let r = one(&addr.to_string(), "").await;
    assert_status(&r, Status::Ok);
    assert_eq!(r.summary.split(" in ").next().unwrap(), format!("connected to {addr}"));
    assert!(r.metric("connect_time").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_pong_dialogue() {
    let addr = line_server("+PONG\r\n", false);
    let r = one(&addr.to_string(), "send = \"PING\\r\\n\"\nexpect = \"+PONG\"").await;
    assert_status(&r, Status::Ok);
    assert!(r.summary.starts_with(&format!("{addr} replied \"+PONG\"")), "{}", r.summary);
    assert!(r.metric("response_time").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn banner_check() {
    let addr = line_server("SSH-2.0-OpenSSH_9.2\r\n", true);
    assert_status(&one(&addr.to_string(), "expect = \"SSH-2.0\"").await, Status::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_reply_is_critical_with_a_transcript() {
    let addr = line_server("-ERR unknown command\r\n", false);
    let r = one(&addr.to_string(), "send = \"PING\\r\\n\"\nexpect = \"+PONG\"").await;
    assert_status(&r, Status::Critical);
    assert!(r.summary.starts_with("no \"+PONG\" in reply"), "{}", r.summary);
    assert!(r.diagnostics.as_deref().unwrap().contains("-ERR unknown command"), "{r:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out() {
    let (addr, _) = silent_listener();
    let r = one(&addr.to_string(), "send = \"PING\\r\\n\"\nexpect = \"+PONG\"").await;
    assert_status(&r, Status::Critical);
    assert!(r.summary.contains("no reply from"), "{}", r.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused() {
    let port = closed_port();
    let r = one(&format!("127.0.0.1:{port}"), "").await;
    assert_status(&r, Status::Critical);
    assert_eq!(r.summary, format!("127.0.0.1:{port}: connection refused"));
}
