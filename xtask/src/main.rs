//! Project chores: `cargo xtask demo | test | bench`.
//!
//! - `demo`: set up, start local stand-ins for the seed services in `checks/`, and run
//!   `picket check` on them (the README's first command).
//! - `test`: set up (wasm target) and run the whole test suite (the README's second
//!   command, and what `.ci/run` calls).
//! - `bench`: the benchmarks whose figures go in BENCHMARKS.md.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::thread;

use anyhow::{Context, Result, bail};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("setup") => setup().map(|_| ExitCode::SUCCESS),
        _ => {
            eprintln!("usage: cargo xtask <demo|test|bench|setup> [args...]");
            Ok(ExitCode::from(64))
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().with_context(|| format!("cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// What every command needs first: the wasm target the plugins are built for.
fn setup() -> Result<()> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output().context("rustup")?;
    if !String::from_utf8_lossy(&installed.stdout).lines().any(|l| l.trim() == "wasm32-wasip2") {
        run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))?;
    }
    // Download every crate up front: host/build.rs builds the plugins with a nested
    // cargo that should never need the network.
    run(Command::new(env!("CARGO")).current_dir(root()).args(["fetch", "--quiet"]))?;
    Ok(())
}

fn test(extra: &[String]) -> Result<ExitCode> {
    setup()?;
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(root()).args(["test", "--workspace"]);
    cmd.args(extra);
    run(&mut cmd)?;
    Ok(ExitCode::SUCCESS)
}

fn bench(extra: &[String]) -> Result<ExitCode> {
    setup()?;
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(root()).args(["bench", "-p", "picket", "--bench", "sandbox", "--"]).args(extra);
    run(&mut cmd)?;
    Ok(ExitCode::SUCCESS)
}

/// Starts stand-ins for the seed services on their ports (skipping any port already in
/// use: the real service may be running) and runs `picket check -c checks/`.
fn demo(extra: &[String]) -> Result<ExitCode> {
    setup()?;
    run(Command::new(env!("CARGO")).current_dir(root()).args(["build", "--quiet", "-p", "picket"]))?;
    for (port, name) in [(3003, "mech-queue"), (3007, "mech-storage")] {
        match TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => {
                eprintln!("xtask: stand-in {name} on http://localhost:{port}/health");
                thread::spawn(move || serve_http(l, name));
            }
            Err(_) => eprintln!("xtask: port {port} is in use; checking whatever serves it"),
        }
    }
    match TcpListener::bind(("127.0.0.1", 6379)) {
        Ok(l) => {
            eprintln!("xtask: stand-in redis-temp (answers PING) on localhost:6379");
            thread::spawn(move || serve_pong(l));
        }
        Err(_) => eprintln!("xtask: port 6379 is in use; checking whatever serves it"),
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    let status = Command::new(target.join("debug").join("picket"))
        .current_dir(root())
        .args(["check", "-c", "checks"])
        .args(extra)
        .status()
        .context("run picket")?;
    Ok(ExitCode::from(status.code().unwrap_or(70) as u8))
}

fn serve_http(listener: TcpListener, name: &'static str) {
    for conn in listener.incoming().flatten() {
        thread::spawn(move || {
            let mut reader = BufReader::new(&conn);
            let mut line = String::new();
            // Read the request head; the body (if any) is ignored.
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if line == "\r\n" || line == "\n" {
                    break;
                }
                line.clear();
            }
            let body = format!("{{\"status\":\"healthy\",\"service\":\"{name}\"}}");
            let mut conn = &conn;
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        });
    }
}

fn serve_pong(listener: TcpListener) {
    for conn in listener.incoming().flatten() {
        thread::spawn(move || pong(conn));
    }
}

fn pong(mut conn: TcpStream) {
    let mut buf = [0u8; 512];
    while let Ok(n) = conn.read(&mut buf) {
        if n == 0 || conn.write_all(b"+PONG\r\n").is_err() {
            break;
        }
    }
}
