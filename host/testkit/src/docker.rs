//! A private Docker engine for tests: `dockerd` on a socket and data root in a temp dir,
//! with no iptables and no bridge (containers share the host's network, so only loopback
//! is used), and an image imported from Debian's `busybox-static` (no registry is
//! reachable). Stopped, with its containers, on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::daemon::eventually;

/// The image [`Dockerd::import_busybox`] makes: busybox, `/bin/sh`, and `/www/health`.
pub const BUSYBOX: &str = "picket-test/busybox:1";

pub struct Dockerd {
    child: Child,
    pub dir: tempfile::TempDir,
    /// `unix:///…/docker.sock`, for `DOCKER_HOST` or `docker -H`.
    pub host: String,
}

impl Dockerd {
    /// Starts `dockerd` and waits until it answers.
    pub fn start() -> Dockerd {
        // Short: a unix socket path is limited to 108 bytes.
        let dir = tempfile::Builder::new().prefix("pkd").tempdir_in("/tmp").unwrap();
        let d = dir.path();
        let host = format!("unix://{}", d.join("docker.sock").display());
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .args(["--host", &host])
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            // vfs works on any file system (overlay on overlay does not); the image is tiny.
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs", "--log-level=warn"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("dockerd is installed (cargo xtask test installs docker.io)");
        let docker = Dockerd { child, dir, host };
        eventually(Duration::from_secs(60), "dockerd to answer", || {
            let out = docker.docker(&["version", "--format", "{{.Server.Version}}"]);
            out.status.success().then_some(())
        });
        docker
    }

    /// Runs the `docker` client against this engine.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker").args(["-H", &self.host]).args(args).stdin(Stdio::null()).output().expect("the docker client is installed")
    }

    /// Like [`Dockerd::docker`], failing the test with docker's stderr if it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(out.status.success(), "docker {args:?}: {}{}", String::from_utf8_lossy(&out.stderr), self.log());
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Imports [`BUSYBOX`] from the host's busybox-static.
    pub fn import_busybox(&self) {
        let root = self.dir.path().join("rootfs");
        for sub in ["bin", "www", "tmp"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::copy(busybox(), root.join("bin/busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
        std::fs::write(root.join("www/health"), "ok\n").unwrap();
        let tar = self.dir.path().join("rootfs.tar");
        let status = Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".").status().unwrap();
        assert!(status.success(), "tar of the busybox rootfs");
        self.ok(&["import", &tar.display().to_string(), BUSYBOX]);
    }

    /// Runs busybox httpd in a container named `name`, serving `/www` on 127.0.0.1:`port`.
    pub fn httpd(&self, name: &str, port: u16) {
        let listen = format!("127.0.0.1:{port}");
        self.ok(&["run", "-d", "--name", name, "--network", "host", BUSYBOX, "/bin/busybox", "httpd", "-f", "-p", &listen, "-h", "/www"]);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }
}

fn busybox() -> PathBuf {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .expect("busybox-static is installed (cargo xtask test installs it)")
        .to_path_buf()
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let ids = self.docker(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.docker(&["rm", "-f", id]);
        }
        // SIGTERM: dockerd stops its containers and its containerd, then exits.
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        unmount_under(self.dir.path());
    }
}

/// Unmounts what dockerd left mounted under `dir` (its network namespace), so the temp
/// dir can be removed.
fn unmount_under(dir: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut points: Vec<&str> = mounts.lines().filter_map(|l| l.split(' ').nth(1)).filter(|p| Path::new(p).starts_with(dir)).collect();
    // Deepest first.
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount").args(["-l", p]).status();
    }
}
