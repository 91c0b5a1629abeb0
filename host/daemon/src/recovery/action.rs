//! Running one recovery action: a command without a shell, or an HTTP request. Both are
//! bounded by the action's timeout; a command runs in its own process group (killed whole
//! on timeout) with an empty environment except `PATH`, `LANG` and `PICKET_*`, and its
//! output is capped.

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
    pub output: String,
    pub duration: Duration,
}

/// Runs `action`, giving up after `timeout`. `env` is added to the command's environment.
pub async fn run(action: &Action, timeout: Duration, env: &[(&str, String)], http: &reqwest::Client) -> Outcome {
    let started = Instant::now();
    let (outcome, exit_code, output) = match action {
        Action::Run { argv, dir } => run_command(argv, dir, timeout, env).await,
        Action::Http { url, method, body } => run_http(url, method, body.as_deref(), timeout, env, http).await,
    };
    Outcome { outcome, exit_code, output, duration: started.elapsed() }
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

async fn run_command(argv: &[String], dir: &Path, timeout: Duration, env: &[(&str, String)]) -> (&'static str, Option<i32>, String) {
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
        Err(e) => return ("error", None, format!("cannot start {}: {e}", argv[0])),
    };
    let out = Arc::new(Capped(Mutex::new(Vec::new())));
    let readers = [
        child.stdout.take().map(|o| tokio::spawn(drain(o, out.clone()))),
        child.stderr.take().map(|e| tokio::spawn(drain(e, out.clone()))),
    ];
    let pid = child.id();
    let status = tokio::time::timeout(timeout, child.wait()).await;
    let (outcome, code) = match status {
        Ok(Ok(s)) if s.success() => ("ok", s.code()),
        Ok(Ok(s)) => ("failed", s.code()),
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
    (outcome, code, text.trim().to_string())
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
