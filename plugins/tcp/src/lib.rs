//! The built-in `tcp` check: connect to a granted `host:port`, optionally send a line and
//! expect a reply (send `PING\r\n`, expect `+PONG`), like `nc -z` with a dialogue.
//!
//! ```toml
//! [[check]]
//! name = "ssh"
//! plugin = "tcp"
//! target = "localhost:22"
//! expect = "SSH-2.0"
//! ```

use std::io::{Read, Write};

use picket_sdk::net::connect_or_report;
use picket_sdk::time::{Stopwatch, human_secs};
use picket_sdk::{Config, Info, ParamKind, Plugin, Report, export_plugin, info};
use serde::Deserialize;

/// Replies longer than this are not read further.
const MAX_REPLY: usize = 64 * 1024;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Params {
    send: Option<String>,
    expect: Option<String>,
}

struct Tcp;

impl Plugin for Tcp {
    fn describe() -> Info {
        info("tcp", "TCP connect, with an optional send/expect dialogue")
            .host_port_target()
            .param("send", ParamKind::String, false, "bytes to send after connecting, e.g. \"PING\\r\\n\"")
            .param("expect", ParamKind::String, false, "a substring the reply must contain, e.g. \"+PONG\"")
            .metric("connect_time", "s", "time to establish the connection")
            .metric("response_time", "s", "time from sending to the expected reply")
            .only("with an `expect` param")
            .build()
    }

    fn check(cfg: Config) -> Report {
        match run(&cfg) {
            Ok(r) | Err(r) => r,
        }
    }
}

fn run(cfg: &Config) -> Result<Report, Report> {
    let p: Params = cfg.params()?;
    let target = cfg.endpoint()?;
    let (host, port) = (&target.host, target.port_or_report()?);
    let timeout = cfg.io_timeout_ms();
    let sw = Stopwatch::start();
    let mut stream = connect_or_report(host, port, timeout)?;
    let connect = sw.elapsed_secs();
    let mut report = Report::ok(format!("connected to {} in {}", stream.peer(), human_secs(connect))).metric("connect_time", connect, "s");

    if p.send.is_none() && p.expect.is_none() {
        return Ok(report);
    }
    let sw = Stopwatch::start();
    if let Some(data) = &p.send {
        stream.write_all(data.as_bytes()).map_err(|e| Report::critical(format!("send failed: {e}")))?;
    }
    let Some(expect) = &p.expect else {
        return Ok(report);
    };
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if String::from_utf8_lossy(&reply).contains(expect.as_str()) {
            break;
        }
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                return Err(Report::critical(format!("no {expect:?} in reply: {e}")).diagnostics(transcript(&reply)));
            }
        };
        if n == 0 || reply.len() >= MAX_REPLY {
            let why = if n == 0 { "connection closed" } else { "reply too long" };
            return Err(Report::critical(format!("no {expect:?} in reply ({why})")).diagnostics(transcript(&reply)));
        }
        reply.extend_from_slice(&buf[..n]);
    }
    let rt = sw.elapsed_secs();
    report.push_metric("response_time", rt, "s");
    report.summary = format!("{} replied {expect:?} in {}", stream.peer(), human_secs(rt));
    Ok(report)
}

fn transcript(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(&reply[..reply.len().min(1024)]);
    format!("received {} bytes: {text:?}", reply.len())
}

export_plugin!(Tcp);
