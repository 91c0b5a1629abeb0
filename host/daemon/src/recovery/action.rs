//! Running one recovery action: a command without a shell, or an HTTP request. Both are
//! bounded by the action's timeout; a command runs in its own process group (killed whole
//! on timeout) with an empty environment except `PATH`, `LANG`, `PICKET_*` and what the
//! check's `recover.env` and `recover.inherit_env` add, and its output is capped. The
//! last lines of stderr are kept apart: they say why a restart failed.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

pub use picket_core::recovery::Action;

/// The most output kept per attempt (stdout and stderr together).
pub const OUTPUT_CAP: usize = 4096;
/// `PATH` for commands: the usual system directories, nothing from picket's own environment.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// After the command exits, how long its output pipes may stay open (a child it left
/// running in the background may hold them forever).
const DRAIN: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// ok, failed, timeout, error.
    pub outcome: &'static str,
    pub exit_code: Option<i32>,
    /// The signal that ended the command, if one did.
    pub signal: Option<i32>,
    /// An `http` action: `exit_code` is the response's status.
    pub http: bool,
    pub output: String,
    /// The last lines of stderr (of the response body for `http`), at most `TAIL_CAP` bytes.
    pub tail: String,
    pub duration: Duration,
}

/// The most of stderr's end kept for logs and notifications.
pub const TAIL_CAP: usize = 512;

impl Outcome {
    /// One line for logs and "recovery gave up": `exit 1: Cannot connect to the Docker daemon …`.
    pub fn describe(&self) -> String {
        let how = match (self.outcome, self.exit_code, self.signal) {
            ("timeout", ..) => "timed out".to_string(),
            (_, _, Some(sig)) => format!("killed by signal {sig}"),
            (_, Some(code), None) if self.http => format!("HTTP {code}"),
            (_, Some(code), None) => format!("exit {code}"),
            (o, None, None) => o.to_string(),
        };
        let tail: Vec<&str> = self.tail.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let tail = tail[tail.len().saturating_sub(3)..].join(" | ");
        if tail.is_empty() { how } else { format!("{how}: {tail}") }
    }
}

/// Runs `action`, giving up after `timeout`. `env` is added to the command's environment.
pub async fn run(action: &Action, timeout: Duration, env: &[(&str, String)], http: &reqwest::Client) -> Outcome {
    let started = Instant::now();
    let (outcome, exit_code, signal, output, tail) = match action {
        Action::Run { argv, dir } => run_command(argv, dir, timeout, env).await,
        Action::Http { url, method, body } => {
            let (outcome, code, output) = run_http(url, method, body.as_deref(), timeout, env, http).await;
            // The body without the status line, which `describe` says itself.
            let body = if code.is_some() { output.split_once('\n').map(|(_, b)| b).unwrap_or("") } else { output.as_str() };
            let tail = tail_of(body.as_bytes());
            (outcome, code, None, output, tail)
        }
    };
    let http = matches!(action, Action::Http { .. });
    Outcome { outcome, exit_code, signal, http, output, tail, duration: started.elapsed() }
}

/// The end of `bytes`, cut at a line start where there is one.
fn tail_of(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(TAIL_CAP);
    let text = String::from_utf8_lossy(&bytes[start..]).into_owned();
    match (start > 0, text.find('\n')) {
        (true, Some(i)) => text[i + 1..].trim().to_string(),
        _ => text.trim().to_string(),
    }
}

struct Capped(Mutex<Vec<u8>>);

impl Capped {
    fn push(&self, bytes: &[u8]) {
        let mut b = self.0.lock().expect("lock");
        let room = OUTPUT_CAP.saturating_sub(b.len());
        b.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

async fn drain(mut r: impl tokio::io::AsyncRead + Unpin, into: Arc<Capped>) {
    let mut buf = [0u8; 4096];
    // Reads past the cap too (discarding), so the command never blocks on a full pipe.
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        into.push(&buf[..n]);
    }
}

/// stderr's last `TAIL_CAP` bytes, whatever came before.
struct Tail(Mutex<Vec<u8>>);

impl Tail {
    fn push(&self, bytes: &[u8]) {
        let mut b = self.0.lock().expect("lock");
        b.extend_from_slice(bytes);
        let excess = b.len().saturating_sub(TAIL_CAP * 2);
        b.drain(..excess);
    }
}

async fn drain_both(mut r: impl tokio::io::AsyncRead + Unpin, into: Arc<Capped>, tail: Arc<Tail>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        into.push(&buf[..n]);
        tail.push(&buf[..n]);
    }
}

type CommandOutcome = (&'static str, Option<i32>, Option<i32>, String, String);

async fn run_command(argv: &[String], dir: &Path, timeout: Duration, env: &[(&str, String)]) -> CommandOutcome {
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(dir)
        .env_clear()
        .env("PATH", PATH)
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let why = format!("cannot start {}: {e}", argv[0]);
            return ("error", None, None, why.clone(), why);
        }
    };
    let out = Arc::new(Capped(Mutex::new(Vec::new())));
    let tail = Arc::new(Tail(Mutex::new(Vec::new())));
    let readers = [
        child.stdout.take().map(|o| tokio::spawn(drain(o, out.clone()))),
        child.stderr.take().map(|e| tokio::spawn(drain_both(e, out.clone(), tail.clone()))),
    ];
    let pid = child.id();
    let status = tokio::time::timeout(timeout, child.wait()).await;
    let mut signal = None;
    let (outcome, code) = match status {
        Ok(Ok(s)) if s.success() => ("ok", s.code()),
        Ok(Ok(s)) => {
            signal = std::os::unix::process::ExitStatusExt::signal(&s);
            ("failed", s.code())
        }
        Ok(Err(e)) => {
            out.push(format!("\nwaiting for the command: {e}").as_bytes());
            ("error", None)
        }
        Err(_) => {
            // The whole group: a script's children go with it.
            if let Some(pid) = pid.and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            let _ = child.wait().await;
            ("timeout", None)
        }
    };
    for r in readers.into_iter().flatten() {
        let abort = r.abort_handle();
        if tokio::time::timeout(DRAIN, r).await.is_err() {
            abort.abort();
        }
    }
    let mut text = String::from_utf8_lossy(&out.0.lock().expect("lock")).into_owned();
    if outcome == "timeout" {
        text.push_str(&format!("\n(killed after {})", crate::units::format_duration(timeout)));
    }
    let tail = tail_of(&tail.0.lock().expect("lock"));
    (outcome, code, signal, text.trim().to_string(), tail)
}

async fn run_http(
    url: &url::Url,
    method: &str,
    body: Option<&str>,
    timeout: Duration,
    env: &[(&str, String)],
    http: &reqwest::Client,
) -> (&'static str, Option<i32>, String) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let mut req = http.request(method, url.clone()).timeout(timeout);
    for (k, v) in env {
        req = req.header(format!("x-{}", k.to_lowercase().replace('_', "-")), v);
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    match req.send().await {
        Ok(r) => {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            let text: String = format!("HTTP {status}\n{text}").chars().take(OUTPUT_CAP).collect();
            (if status.is_success() { "ok" } else { "failed" }, Some(status.as_u16() as i32), text.trim().to_string())
        }
        Err(e) if e.is_timeout() => ("timeout", None, crate::notify::describe_reqwest(e)),
        Err(e) => ("error", None, crate::notify::describe_reqwest(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Action {
        Action::Run { argv: vec!["/bin/sh".into(), "-c".into(), script.into()], dir: std::env::temp_dir() }
    }

    #[tokio::test]
    async fn commands_get_a_minimal_environment_and_their_output_is_capped() {
        let http = reqwest::Client::new();
        // A variable of this process's own (HOME, CARGO_PKG_NAME, …) must not reach the
        // command. Found, not set: set_var is unsound while other test threads run.
        let (leak, _) = std::env::vars()
            .find(|(k, v)| {
                !v.is_empty()
                    && !["PATH", "LANG"].contains(&k.as_str())
                    && !k.starts_with("PICKET_")
                    && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
            .expect("the test process has some environment");
        let o = run(
            &sh(&format!("echo \"[${{{leak}}}][$PICKET_CHECK]\"; env | wc -l")),
            Duration::from_secs(5),
            &[("PICKET_CHECK", "api".into())],
            &http,
        )
        .await;
        assert_eq!(o.outcome, "ok");
        let lines: Vec<&str> = o.output.lines().collect();
        assert_eq!(lines[0], "[][api]");
        let n: usize = lines[1].trim().parse().unwrap();
        assert!(n <= 5, "environment has {n} variables");
        let o = run(&sh("head -c 100000 /dev/zero | tr '\\0' x; exit 3"), Duration::from_secs(5), &[], &http).await;
        assert_eq!((o.outcome, o.exit_code), ("failed", Some(3)));
        assert_eq!(o.output.len(), OUTPUT_CAP);
    }

    #[tokio::test]
    async fn a_failure_is_described_by_its_exit_or_signal_and_the_end_of_stderr() {
        let http = reqwest::Client::new();
        let script = "echo to-stdout; i=0; while [ $i -lt 500 ]; do echo early-noise >&2; i=$((i+1)); done; \
                      echo 'step 1' >&2; echo 'Cannot connect to the Docker daemon at unix:///x.sock' >&2; exit 125";
        let o = run(&sh(script), Duration::from_secs(5), &[], &http).await;
        assert_eq!(o.describe(), "exit 125: early-noise | step 1 | Cannot connect to the Docker daemon at unix:///x.sock");
        assert!(o.tail.len() <= TAIL_CAP && !o.tail.contains("to-stdout"), "{}", o.tail);
        let o = run(&sh("echo dying >&2; kill -9 $$"), Duration::from_secs(5), &[], &http).await;
        assert_eq!(o.describe(), "killed by signal 9: dying");
    }

    #[tokio::test]
    async fn a_hanging_command_is_killed_with_its_children() {
        let http = reqwest::Client::new();
        let o = run(&sh("sleep 30 & sleep 30"), Duration::from_millis(300), &[], &http).await;
        assert_eq!(o.outcome, "timeout");
        assert!(o.duration < Duration::from_secs(5));
        let o =
            run(&Action::Run { argv: vec!["/nonexistent/restart".into()], dir: std::env::temp_dir() }, Duration::from_secs(1), &[], &http)
                .await;
        assert_eq!(o.outcome, "error");
        assert!(o.output.contains("cannot start /nonexistent/restart"), "{}", o.output);
    }

    #[tokio::test]
    async fn a_background_child_holding_the_pipe_does_not_hold_the_action() {
        let http = reqwest::Client::new();
        let o = run(&sh("echo started; setsid sleep 5 &"), Duration::from_secs(3), &[], &http).await;
        assert_eq!(o.outcome, "ok");
        assert_eq!(o.output, "started");
        assert!(o.duration < Duration::from_secs(2), "{:?}", o.duration);
    }
}
