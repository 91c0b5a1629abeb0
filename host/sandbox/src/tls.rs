//! Host-side TLS for the `tcp` capability: rustls client configs per check TLS settings
//! (verification on by default, an extra CA file, or the explicit `insecure` opt-out),
//! made by `picket-tls` and kept per setting, and reading a certificate's expiry, shared
//! with the `http` capability.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::ClientConfig;
use rustls::pki_types::ServerName;

use picket_core::grants::TlsOptions;

/// Seconds from now until the certificate's notAfter (negative once expired).
pub fn expires_in_s(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = cert.validity().not_after.timestamp();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(not_after - now)
}

/// Client configs, one per distinct TLS setting, built on first use by
/// [`picket_tls::client_config`] (the same trust as every other TLS client in picket).
#[derive(Clone, Default)]
pub struct TlsConfigs {
    configs: Arc<Mutex<HashMap<TlsOptions, Arc<ClientConfig>>>>,
}

impl TlsConfigs {
    pub fn get(&self, tls: &TlsOptions) -> Result<Arc<ClientConfig>, String> {
        let mut map = self.configs.lock().unwrap();
        if let Some(c) = map.get(tls) {
            return Ok(c.clone());
        }
        let config = picket_tls::client_config(tls).map_err(|e| e.to_string())?;
        map.insert(tls.clone(), config.clone());
        Ok(config)
    }
}

/// The server name to verify: an IP address or a DNS name.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.trim_matches(['[', ']']).to_string()).map_err(|e| format!("{host:?} is not a valid TLS server name: {e}"))
}

#[cfg(test)]
mod tests {
    use picket_tls::testing::{TestCa, child_addr, handshake, https, is_certificate_error, run_with_os_store};

    use super::*;
    use crate::HttpClients;
    use crate::types::ErrorKind;

    fn with_ca_file(path: std::path::PathBuf) -> TlsOptions {
        TlsOptions { ca_file: Some(path), insecure: false }
    }

    async fn get(clients: &HttpClients, tls: &TlsOptions, addr: std::net::SocketAddr) -> Result<reqwest::Response, reqwest::Error> {
        clients.get(tls).unwrap().get(format!("https://127.0.0.1:{}/", addr.port())).send().await
    }

    /// start-tls (`TlsConfigs`) and the `http` capability (`HttpClients`) trust exactly
    /// what picket-tls trusts: a check's `ca_file`, nothing unknown, anything if insecure.
    #[tokio::test]
    async fn start_tls_and_http_trust_the_ca_file() {
        let ca = TestCa::generate();
        let dir = tempfile::tempdir().unwrap();
        let addr = https(&ca).await;
        let with_ca = with_ca_file(ca.write_ca(dir.path()));
        let insecure = TlsOptions { ca_file: None, insecure: true };

        let configs = TlsConfigs::default();
        let config = configs.get(&with_ca).unwrap();
        handshake(config.clone(), addr).await.unwrap();
        assert!(Arc::ptr_eq(&config, &configs.get(&with_ca).unwrap()), "one config per setting");
        let e = handshake(configs.get(&TlsOptions::default()).unwrap(), addr).await.unwrap_err();
        assert!(is_certificate_error(&e), "{e:?}");
        handshake(configs.get(&insecure).unwrap(), addr).await.unwrap();

        let clients = HttpClients::default();
        let resp = get(&clients, &with_ca, addr).await.unwrap();
        assert_eq!(resp.status(), 200);
        // tls_info still works on picket-tls's config: the check reads the expiry.
        let info = resp.extensions().get::<reqwest::tls::TlsInfo>().expect("tls info");
        assert!(expires_in_s(info.peer_certificate().unwrap()).is_some());
        let e = get(&clients, &TlsOptions::default(), addr).await.unwrap_err();
        let url = url::Url::parse("https://127.0.0.1/").unwrap();
        let cap = crate::http::classify(&url, &e);
        assert_eq!(cap.kind, ErrorKind::Tls, "{}", cap.message);
        assert!(cap.message.contains("UnknownIssuer"), "{}", cap.message);
        assert_eq!(get(&clients, &insecure, addr).await.unwrap().status(), 200);
    }

    #[test]
    fn a_bad_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = with_ca_file(dir.path().join("missing.pem"));
        let e = TlsConfigs::default().get(&missing).unwrap_err();
        assert!(e.starts_with(&format!("cannot read CA file {}", dir.path().join("missing.pem").display())), "{e}");
        let e = HttpClients::default().get(&missing).unwrap_err();
        assert!(e.starts_with("cannot read CA file"), "{e}");
    }

    /// The defect this guards against: a private CA installed in the OS store worked for
    /// the `http` capability but not for start-tls (postgres, redis over TLS). Here the CA
    /// is only in `SSL_CERT_FILE`, in a child process running [`os_store_child`].
    #[tokio::test]
    async fn start_tls_and_http_trust_the_os_store() {
        let ca = TestCa::generate();
        let dir = tempfile::tempdir().unwrap();
        let addr = https(&ca).await;
        run_with_os_store("tls::tests::os_store_child", &ca.write_ca(dir.path()), addr).await;
    }

    #[tokio::test]
    #[ignore = "run by start_tls_and_http_trust_the_os_store in a child process with SSL_CERT_FILE set"]
    async fn os_store_child() {
        let Some(addr) = child_addr() else { return };
        handshake(TlsConfigs::default().get(&TlsOptions::default()).unwrap(), addr).await.expect("start-tls trusts the OS store");
        let resp = get(&HttpClients::default(), &TlsOptions::default(), addr).await.expect("http trusts the OS store");
        assert_eq!(resp.status(), 200);
    }
}
