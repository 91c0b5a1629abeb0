//! A private PostgreSQL cluster for tests: `initdb` in a temp dir (as the `postgres` user
//! when the tests run as root, since PostgreSQL refuses to run as root), a free loopback
//! port, users for every authentication method under test, and optional TLS.
//!
//! One plain and one TLS cluster are shared by the whole test binary (initdb takes
//! seconds). A watchdog shell stops each cluster when the test process exits, since
//! statics are never dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::servers::closed_port;

pub const SCRAM_USER: (&str, &str) = ("scramuser", "scram-Pa55word");
pub const MD5_USER: (&str, &str) = ("md5user", "md5-Pa55word");
pub const CLEARTEXT_USER: (&str, &str) = ("pwuser", "clear-Pa55word");
pub const TRUST_USER: &str = "trustuser";

pub struct PgServer {
    pub port: u16,
    pub dir: PathBuf,
    /// The CA that signed the server certificate, when TLS is on.
    pub ca: Option<PathBuf>,
}

fn bin_dir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server is installed (cargo xtask test installs it)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop().expect("an initdb under /usr/lib/postgresql/*/bin")
}

fn is_root() -> bool {
    rustix::process::getuid().is_root()
}

/// Runs a PostgreSQL program as the `postgres` user (or as ourselves when not root).
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: impl std::borrow::BorrowMut<Command>, what: &str) {
    let cmd = cmd.borrow_mut();
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(out.status.success(), "{what} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

impl PgServer {
    /// The shared plain (non-TLS) cluster.
    pub fn plain() -> &'static PgServer {
        static S: OnceLock<PgServer> = OnceLock::new();
        S.get_or_init(|| PgServer::start(false))
    }

    /// The shared TLS cluster.
    pub fn tls() -> &'static PgServer {
        static S: OnceLock<PgServer> = OnceLock::new();
        S.get_or_init(|| PgServer::start(true))
    }

    fn start(tls: bool) -> PgServer {
        let bin = bin_dir();
        // Not a TempDir: it must outlive the statics; the watchdog removes it.
        let dir = tempfile::Builder::new().prefix("picket-pg-").tempdir().unwrap().keep();
        let data = dir.join("data");
        std::fs::create_dir(&data).unwrap();
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir), "chown");
            run(Command::new("chmod").arg("755").arg(&dir), "chmod");
        }
        let mut initdb = as_postgres(&bin.join("initdb"));
        initdb.arg("-D").arg(&data).args(["-U", "postgres", "--auth=trust", "--no-sync", "--no-instructions", "-E", "UTF8"]);
        run(initdb, "initdb");

        let port = closed_port();
        let mut conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\nmax_connections = 20\nshared_buffers = 16MB\n",
            dir.display()
        );
        let mut ca = None;
        if !tls {
            conf.push_str("shared_preload_libraries = 'pg_stat_statements'\n");
        }
        if tls {
            let files = super::servers::cert_files(&dir, 45);
            if is_root() {
                run(Command::new("chown").arg("postgres:postgres").arg(&files.cert).arg(&files.key), "chown certs");
            }
            conf.push_str(&format!("ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n", files.cert.display(), files.key.display()));
            ca = Some(files.ca);
        }
        append(&data.join("postgresql.conf"), &conf);
        std::fs::write(
            data.join("pg_hba.conf"),
            format!(
                "local all all trust\nhost all {TRUST_USER} 127.0.0.1/32 trust\nhost all {} 127.0.0.1/32 md5\nhost all {} 127.0.0.1/32 password\nhost all all 127.0.0.1/32 scram-sha-256\n",
                MD5_USER.0, CLEARTEXT_USER.0
            ),
        )
        .unwrap();
        if is_root() {
            run(Command::new("chown").arg("-R").arg("postgres:postgres").arg(&data), "chown data");
        }
        let mut start = as_postgres(&bin.join("pg_ctl"));
        start.arg("-D").arg(&data).arg("-l").arg(dir.join("server.log")).args(["-w", "-t", "30", "start"]);
        start.stdout(Stdio::null());
        run(start, "pg_ctl start");
        watchdog(&bin, &data, &dir);

        let server = PgServer { port, dir, ca };
        server.sql(
            "postgres",
            &format!(
                "CREATE ROLE {s} LOGIN PASSWORD '{sp}';
                 SET password_encryption = 'md5'; CREATE ROLE {m} LOGIN PASSWORD '{mp}'; RESET password_encryption;
                 CREATE ROLE {c} LOGIN PASSWORD '{cp}';
                 CREATE ROLE {TRUST_USER} LOGIN;",
                s = SCRAM_USER.0,
                sp = SCRAM_USER.1,
                m = MD5_USER.0,
                mp = MD5_USER.1,
                c = CLEARTEXT_USER.0,
                cp = CLEARTEXT_USER.1
            ),
        );
        server.sql("postgres", &format!("CREATE DATABASE app OWNER {}", SCRAM_USER.0));
        server.sql(
            "app",
            &format!(
                "CREATE TABLE jobs (id int, failed bool);
                 INSERT INTO jobs SELECT g, g % 10 = 0 FROM generate_series(1, 200) g;
                 GRANT SELECT ON jobs TO PUBLIC;
                 ALTER TABLE jobs OWNER TO {};",
                SCRAM_USER.0
            ),
        );
        if !tls {
            server.sql("app", &format!("CREATE EXTENSION pg_stat_statements; GRANT pg_monitor TO {TRUST_USER};"));
        }
        server
    }

    /// Runs SQL as the superuser over the unix socket.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let mut c = as_postgres(Path::new("/usr/bin/psql"));
        c.arg("-h").arg(&self.dir).args(["-p", &self.port.to_string(), "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-qAtc", sql]);
        let out = c.output().expect("psql");
        assert!(out.status.success(), "psql failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Starts a superuser psql session on `db` that runs `sql` and then keeps the session
    /// open (stdin stays open until the child is killed).
    pub fn session(&self, db: &str, sql: &str) -> std::process::Child {
        use std::io::Write;
        let mut c = as_postgres(Path::new("/usr/bin/psql"));
        c.arg("-h").arg(&self.dir).args(["-p", &self.port.to_string(), "-U", "postgres", "-d", db, "-q"]);
        let mut child = c.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("psql");
        writeln!(child.stdin.as_mut().unwrap(), "{sql}").unwrap();
        child
    }

    pub fn url(&self, user: &str, db: &str, query: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{db}{query}", self.port)
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Stops the cluster and removes its directory once this test process is gone.
fn watchdog(bin: &Path, data: &Path, dir: &Path) {
    let pid = std::process::id();
    let pg_ctl = bin.join("pg_ctl");
    let stop = if is_root() {
        format!("setpriv --reuid=postgres --regid=postgres --init-groups {} -D {} -m immediate stop", pg_ctl.display(), data.display())
    } else {
        format!("{} -D {} -m immediate stop", pg_ctl.display(), data.display())
    };
    let script = format!("while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf {}", dir.display());
    // Never waited for, on purpose: it outlives this process to clean up after it.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .expect("spawn watchdog");
}
