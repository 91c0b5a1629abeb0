//! Test support (feature `testing`, and this crate's own tests): a throwaway CA with a
//! `localhost`/127.0.0.1 server certificate, and loopback TLS servers presenting it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;

/// A CA made for one test, and a server certificate for `localhost` and 127.0.0.1 that it
/// signed. No OS store or bundled root trusts it.
pub struct TestCa {
    ca_pem: String,
    server: Arc<ServerConfig>,
}

impl TestCa {
    pub fn generate() -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(vec![]).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf =
            CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap().signed_by(&leaf_key, &ca, &ca_key).unwrap();
        let key = PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
        let server = ServerConfig::builder_with_provider(crate::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
        TestCa { ca_pem: ca.pem(), server: Arc::new(server) }
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Writes the CA certificate to `dir/ca.pem` and returns that path.
    pub fn write_ca(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.ca_pem).unwrap();
        path
    }

    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.server.clone()
    }
}

/// A TLS server on 127.0.0.1 (an ephemeral port) presenting `ca`'s server certificate,
/// on the current tokio runtime until it ends: each connection that completes the
/// handshake is given to `handle` in its own task; failed handshakes are dropped.
pub async fn serve<F, Fut>(ca: &TestCa, handle: F) -> SocketAddr
where
    F: Fn(TlsStream<TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config());
    let handle = Arc::new(handle);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, handle) = (acceptor.clone(), handle.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    handle(tls).await;
                }
            });
        }
    });
    addr
}

/// An HTTPS server on 127.0.0.1 answering every request `200 OK`, body `ok`, then closing.
pub async fn https(ca: &TestCa) -> SocketAddr {
    serve(ca, |mut tls| async move {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
        let _ = tls.shutdown().await;
    })
    .await
}

/// Connects to `addr` and completes a TLS handshake for the name `localhost`.
pub async fn handshake(config: Arc<ClientConfig>, addr: SocketAddr) -> io::Result<()> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await?;
    let _ = tls.shutdown().await;
    Ok(())
}

/// The variable naming, in a child started by [`run_with_os_store`], the server to reach.
const CHILD_ADDR: &str = "PICKET_TLS_TEST_CHILD_ADDR";

/// Runs the test `name` (its full path, e.g. `tests::os_store_child`) of the current test
/// binary, alone, in a child process whose OS store is only `ca_file` (`SSL_CERT_FILE`,
/// which rustls-native-certs reads instead of the platform's store) and in which
/// [`child_addr`] gives `addr`; panics unless that test ran and passed. The variable is
/// set for the child only, never in this multi-threaded process. Mark the child test
/// `#[ignore]` so it runs only this way (`--ignored` is passed).
pub async fn run_with_os_store(name: &str, ca_file: &Path, addr: SocketAddr) {
    let out = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("SSL_CERT_FILE", ca_file)
        .env_remove("SSL_CERT_DIR")
        .env(CHILD_ADDR, addr.to_string())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{name} failed in the child process:\n{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("test {name} ... ok")) && stdout.contains("1 passed"), "{name} did not run:\n{stdout}\n{stderr}");
}

/// In a child started by [`run_with_os_store`]: the server to reach. `None` elsewhere
/// (e.g. `cargo test -- --ignored`), where the child test should do nothing.
pub fn child_addr() -> Option<SocketAddr> {
    let addr = std::env::var(CHILD_ADDR).ok()?;
    Some(addr.parse().unwrap())
}

/// Whether a handshake failed because the server's certificate did not verify.
pub fn is_certificate_error(e: &io::Error) -> bool {
    matches!(e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()), Some(rustls::Error::InvalidCertificate(_)))
}
