//! Loopback servers for tests, each on its own threads so they are independent of the
//! test's tokio runtime: a scriptable HTTP/1.1 server (optionally TLS), a TCP
//! line-responder, and a listener that only counts connections.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

/// What the test server answers.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn ok(body: &str) -> Reply {
        Reply { status: 200, headers: vec![], body: body.into(), delay: Duration::ZERO }
    }
    pub fn status(status: u16, body: &str) -> Reply {
        Reply { status, ..Reply::ok(body) }
    }
    pub fn redirect(to: &str) -> Reply {
        Reply { status: 302, headers: vec![("location".into(), to.into())], body: String::new(), delay: Duration::ZERO }
    }
    pub fn delayed(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

pub struct HttpServer {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl HttpServer {
    pub fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> HttpServer {
        Self::start_on(TcpListener::bind("127.0.0.1:0").unwrap(), None, handler)
    }

    /// An HTTPS server presenting `config`'s certificate.
    pub fn start_tls(config: Arc<rustls::ServerConfig>, handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> HttpServer {
        Self::start_on(TcpListener::bind("127.0.0.1:0").unwrap(), Some(config), handler)
    }

    pub fn start_on(
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> HttpServer {
        let addr = listener.local_addr().unwrap();
        let handler: Arc<Handler> = Arc::new(handler);
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, halt) = (requests.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if halt.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (handler, count, tls) = (handler.clone(), count.clone(), tls.clone());
                thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                    match tls {
                        None => serve(conn, &*handler, &count),
                        Some(cfg) => {
                            let Ok(server) = rustls::ServerConnection::new(cfg) else { return };
                            serve(rustls::StreamOwned::new(server, conn), &*handler, &count);
                        }
                    }
                });
            }
        });
        HttpServer { addr, requests, stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn count(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(100));
    }
}

fn serve<S: Read + Write>(stream: S, handler: &Handler, count: &AtomicUsize) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_lowercase(), v.trim().to_string()));
        }
    }
    let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; len];
    let _ = reader.read_exact(&mut body);
    count.fetch_add(1, Ordering::Relaxed);
    let seen = Seen { method, path, headers, body: String::from_utf8_lossy(&body).into_owned() };
    let reply = handler(&seen);
    thread::sleep(reply.delay);
    let mut out = format!("HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n", reply.status, reply.body.len());
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    let mut stream = reader.into_inner();
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.flush();
}

/// A TCP server that answers every read with `reply` (e.g. "+PONG\r\n"), or greets with it
/// first when `greet` is set (a banner, as SSH and SMTP do).
pub fn line_server(reply: &'static str, greet: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            thread::spawn(move || {
                if greet {
                    let _ = conn.write_all(reply.as_bytes());
                }
                let mut buf = [0u8; 1024];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || (!greet && conn.write_all(reply.as_bytes()).is_err()) {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// A listener that accepts and counts connections and never answers, for proving a
/// plugin did *not* reach it, or for "accepts but never replies".
pub fn silent_listener() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            c.fetch_add(1, Ordering::Relaxed);
            held.push(conn);
        }
    });
    (addr, count)
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// PEM files of a throwaway CA and a server certificate signed by it.
pub struct CertFiles {
    pub ca: std::path::PathBuf,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// Writes `ca.pem`, `server.pem` and `server.key` (mode 0600) into `dir`.
pub fn cert_files(dir: &std::path::Path, days: i64) -> CertFiles {
    use std::os::unix::fs::PermissionsExt;
    let (ca, cert, key) = make_certs(days);
    let files = CertFiles { ca: dir.join("ca.pem"), cert: dir.join("server.pem"), key: dir.join("server.key") };
    std::fs::write(&files.ca, ca.pem()).unwrap();
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    std::fs::set_permissions(&files.key, std::fs::Permissions::from_mode(0o600)).unwrap();
    files
}

fn make_certs(days: i64) -> (rcgen::Certificate, rcgen::Certificate, rcgen::KeyPair) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let now = time::OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(vec![]).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.not_before = now - time::Duration::days(1);
    ca_params.not_after = now + time::Duration::days(365);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    leaf_params.not_before = now - time::Duration::days(1);
    leaf_params.not_after = now + time::Duration::days(days);
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    (ca, leaf, leaf_key)
}

/// A throwaway CA and a `localhost`/127.0.0.1 certificate from it that expires in
/// `days`; returns the server config and the CA's PEM.
pub fn tls_config(days: i64) -> (Arc<rustls::ServerConfig>, String) {
    let (ca, leaf, leaf_key) = make_certs(days);
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    (Arc::new(config), ca.pem())
}
