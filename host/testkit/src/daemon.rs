//! A real `picket run` process on a loopback port, its stderr captured, and a minimal
//! HTTP/1.0 client for its API (no client library between the test and the bytes).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::picket;

pub struct DaemonProc {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    /// The thread copying stderr into `log`; it ends when the process's stderr closes.
    reader: std::thread::JoinHandle<()>,
}

/// An HTTP response: status code and body.
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One request over a fresh connection; HTTP/1.0 so the body is simply "until close".
pub fn http(addr: SocketAddr, method: &str, path: &str) -> Response {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Response { status, body: body.to_string() }
}

/// Polls `f` every 100 ms until it returns `Some`, or panics after `within`.
pub fn eventually<T>(within: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl DaemonProc {
    /// Starts `picket run -c config --store store` on a free loopback port and waits until
    /// its API answers.
    pub fn start(config: &Path, store: &Path) -> DaemonProc {
        Self::start_with(config, &["--store", store.to_str().unwrap()])
    }

    pub fn start_with(config: &Path, extra: &[&str]) -> DaemonProc {
        Self::start_logging(config, extra, "info,picket::events=debug")
    }

    /// As [`DaemonProc::start_with`], logging at `filter` (benchmarks keep it quiet).
    pub fn start_logging(config: &Path, extra: &[&str], filter: &str) -> DaemonProc {
        let mut child = picket()
            .args(["run", "-c", config.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn picket run");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("API on http://").nth(1) {
                    let _ = tx.send(addr.trim().parse::<SocketAddr>().expect("address in the start line"));
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("picket run did not start:\n{}", log.lock().unwrap());
            }
        };
        DaemonProc { child, addr, log, reader }
    }

    pub fn get(&self, path: &str) -> Response {
        http(self.addr, "GET", path)
    }

    pub fn post(&self, path: &str) -> Response {
        http(self.addr, "POST", path)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the outbox holds nothing pending and returns `/api/v1/notifications`.
    /// Every notification decided so far is then delivered, failed or held, so a receiver
    /// has all it will ever get of them (nothing is left to send or retry).
    pub fn settled_outbox(&self, within: Duration) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            let n = self.get("/api/v1/notifications").json();
            if n["counts"]["pending"] == 0 {
                return n;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {within:?} waiting for the outbox to have nothing pending; last: {}",
                n["counts"]
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The API's view of one check.
    pub fn check(&self, name: &str) -> serde_json::Value {
        let r = self.get(&format!("/api/v1/checks/{name}"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: rustix::process::Signal) {
        rustix::process::kill_process(rustix::process::Pid::from_raw(self.pid()).unwrap(), sig).unwrap();
    }

    /// SIGKILL: no chance to flush or say goodbye.
    pub fn kill_hard(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits for the process to exit on its own (after SIGTERM), then for its last log
    /// lines: the log is complete once the reader thread has seen stderr close.
    pub fn wait_exit(mut self, within: Duration) -> (ExitStatus, String) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                eventually(within, "the daemon's stderr to close after it exited", || self.reader.is_finished().then_some(()));
                return (status, self.log());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("daemon did not exit within {within:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for DaemonProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory with one check file and room for a store.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new(checks: &str) -> Workdir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("checks.toml"), checks).unwrap();
        Workdir { dir }
    }

    pub fn checks(&self) -> PathBuf {
        self.dir.path().join("checks.toml")
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("picket.db")
    }

    pub fn rewrite(&self, checks: &str) {
        std::fs::write(self.checks(), checks).unwrap();
    }
}
