//! Private `redis-server` instances for tests: a temp dir, a free loopback port, the
//! config the test asks for, killed on drop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::servers::closed_port;

pub struct RedisServer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

/// Where the test certificate files live when a server uses TLS.
pub struct TlsFiles {
    pub ca: PathBuf,
}

impl RedisServer {
    /// Starts redis-server with `extra` appended to a minimal config.
    pub fn start(extra: &str) -> RedisServer {
        Self::start_inner(extra, None).0
    }

    /// A TLS-only server whose certificate (for localhost/127.0.0.1) expires in `days`.
    pub fn start_tls(extra: &str, days: i64) -> (RedisServer, TlsFiles) {
        let (s, files) = Self::start_inner(extra, Some(days));
        (s, files.unwrap())
    }

    fn start_inner(extra: &str, tls_days: Option<i64>) -> (RedisServer, Option<TlsFiles>) {
        let dir = tempfile::tempdir().unwrap();
        let port = closed_port();
        let mut conf = format!(
            "bind 127.0.0.1\nsave \"\"\nappendonly no\ndir {}\ndaemonize no\nlogfile {}/redis.log\n",
            dir.path().display(),
            dir.path().display()
        );
        let mut files = None;
        if let Some(days) = tls_days {
            let pem = super::servers::cert_files(dir.path(), days);
            conf.push_str(&format!(
                "port 0\ntls-port {port}\ntls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\ntls-auth-clients no\n",
                pem.cert.display(),
                pem.key.display(),
                pem.ca.display()
            ));
            files = Some(TlsFiles { ca: pem.ca });
        } else {
            conf.push_str(&format!("port {port}\n"));
        }
        conf.push_str(extra);
        let path = dir.path().join("redis.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new("redis-server")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (cargo xtask test installs it)");
        let server = RedisServer { child, port, dir };
        server.wait_listening();
        (server, files)
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
        panic!("redis-server did not start on port {}:\n{log}", self.port);
    }

    /// Sends a raw inline command (e.g. "CONFIG SET maxmemory 100mb") as the default user.
    pub fn command(&self, auth: Option<&str>, cmd: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        if let Some(pw) = auth {
            write!(s, "AUTH {pw}\r\n").unwrap();
            let mut b = [0u8; 64];
            let _ = s.read(&mut b).unwrap();
        }
        write!(s, "{cmd}\r\n").unwrap();
        let mut b = [0u8; 4096];
        let n = s.read(&mut b).unwrap();
        String::from_utf8_lossy(&b[..n]).into_owned()
    }

    /// Stops the server (as a crash would) and waits until it is gone.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again with the same config and port, and waits until it listens.
    pub fn restart(&mut self) {
        self.stop();
        self.child = Command::new("redis-server")
            .arg(self.dir.path().join("redis.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.wait_listening();
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
