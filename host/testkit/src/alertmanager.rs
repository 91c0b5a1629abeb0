//! A real Alertmanager (Debian `prometheus-alertmanager`) on a loopback port, clustering
//! off, with a generated config whose only receiver is a webhook (so the test also sees
//! what Alertmanager itself sends, resolved included). Killed on drop.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::daemon::{eventually, http};
use super::prometheus::which;

pub struct Alertmanager {
    child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    pub fn start(webhook: &str) -> Alertmanager {
        let bin = which("prometheus-alertmanager")
            .or_else(|| which("alertmanager"))
            .expect("prometheus-alertmanager is not installed (cargo xtask test installs the Debian package)");
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "route:\n  receiver: hook\n  group_by: ['check']\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n  - name: hook\n    webhook_configs:\n      - url: '{webhook}'\n        send_resolved: true\n"
        );
        let config_path = dir.path().join("alertmanager.yml");
        std::fs::write(&config_path, config).unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            // No gossip port on every interface: this one is alone and on loopback.
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager");
        let am = Alertmanager { child, addr, _dir: dir };
        eventually(Duration::from_secs(30), "alertmanager to be ready", || {
            std::net::TcpStream::connect(addr).ok()?;
            (http(addr, "GET", "/-/ready").status == 200).then_some(())
        });
        am
    }

    /// `GET /api/v2/alerts`: the alerts it holds (resolved ones drop out).
    pub fn alerts(&self) -> Vec<serde_json::Value> {
        let r = http(self.addr, "GET", "/api/v2/alerts");
        serde_json::from_str::<Vec<serde_json::Value>>(&r.body).unwrap_or_default()
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
