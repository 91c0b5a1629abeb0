//! Host-side TLS for the `tcp` capability: rustls client configs per check TLS settings
//! (verification on by default, an extra CA file, or the explicit `insecure` opt-out), and
//! reading a certificate's expiry, shared with the `http` capability.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use picket_core::grants::TlsOptions;

/// Seconds from now until the certificate's notAfter (negative once expired).
pub fn expires_in_s(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = cert.validity().not_after.timestamp();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(not_after - now)
}

fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(ring::default_provider())).clone()
}

/// Client configs, one per distinct TLS setting, built on first use.
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
        let builder =
            ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().map_err(|e| format!("TLS setup: {e}"))?;
        let config = if tls.insecure {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerification(provider()))).with_no_client_auth()
        } else {
            let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            if let Some(path) = &tls.ca_file {
                let pem = std::fs::read(path).map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
                let mut added = 0;
                for cert in rustls_pem_certs(&pem) {
                    roots.add(cert).map_err(|e| format!("CA file {}: {e}", path.display()))?;
                    added += 1;
                }
                if added == 0 {
                    return Err(format!("CA file {} holds no PEM certificates", path.display()));
                }
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        let config = Arc::new(config);
        map.insert(tls.clone(), config.clone());
        Ok(config)
    }
}

/// The DER certificates in a PEM bundle.
fn rustls_pem_certs(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem).filter_map(Result::ok).collect()
}

/// The server name to verify: an IP address or a DNS name.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.trim_matches(['[', ']']).to_string()).map_err(|e| format!("{host:?} is not a valid TLS server name: {e}"))
}

/// `tls = { insecure = true }`: accept any certificate, still checking handshake
/// signatures so the connection is at least encrypted to whoever answered.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
