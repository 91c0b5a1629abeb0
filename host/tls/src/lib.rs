//! The one place TLS client configuration is made; every TLS client in picket gets its
//! rustls `ClientConfig` here.
//!
//! Trust is the same on every path (the sandbox's `http` capability and `start-tls`, the
//! webhook-style notifiers, e-mail):
//!
//! - the OS certificate store, read once per process by `rustls-native-certs` (which
//!   honours `SSL_CERT_FILE` and `SSL_CERT_DIR`), so a private CA installed on the machine
//!   works for every check and channel;
//! - plus the bundled Mozilla roots (`webpki-roots`), so a machine with an empty or
//!   missing OS store still reaches public services;
//! - plus the PEM certificates of a check's `tls.ca_file`, if it names one;
//! - or, with `tls = { insecure = true }`, no verification of the certificate at all
//!   (handshake signatures are still checked).
//!
//! The crypto provider is rustls' `ring`. ALPN is left to callers: [`reqwest_builder`]
//! sets `http/1.1`, raw TCP `start-tls` sets none.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

pub use picket_core::grants::TlsOptions;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

/// Why a client configuration could not be made; every CA-file error names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read CA file {}: {error}", path.display())]
    ReadCaFile { path: PathBuf, error: std::io::Error },
    #[error("CA file {} is not valid PEM: {error}", path.display())]
    Pem { path: PathBuf, error: rustls::pki_types::pem::Error },
    #[error("CA file {} holds no PEM certificates", path.display())]
    NoCertificates { path: PathBuf },
    #[error("CA file {}: not a usable CA certificate: {error}", path.display())]
    BadCertificate { path: PathBuf, error: rustls::Error },
    #[error("TLS setup: {0}")]
    Setup(rustls::Error),
}

/// The crypto provider every picket TLS client uses (ring).
pub fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(ring::default_provider())).clone()
}

/// The trust every verified config starts from, built once per process.
struct Base {
    /// The OS store's certificates that rustls accepts as trust anchors.
    os: Vec<CertificateDer<'static>>,
    /// `os` plus the bundled webpki roots.
    roots: RootCertStore,
}

fn base() -> &'static Base {
    static B: OnceLock<Base> = OnceLock::new();
    B.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!("OS certificate store: {e}");
        }
        let mut roots = RootCertStore::empty();
        let mut os = Vec::with_capacity(found.certs.len());
        let mut ignored = 0;
        for cert in found.certs {
            match roots.add(cert.clone()) {
                Ok(()) => os.push(cert),
                Err(_) => ignored += 1,
            }
        }
        tracing::debug!(os = os.len(), ignored, bundled = webpki_roots::TLS_SERVER_ROOTS.len(), "TLS trust roots loaded");
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Base { os, roots }
    })
}

/// The OS store's trust anchors (as loaded once per process; `SSL_CERT_FILE` and
/// `SSL_CERT_DIR` replace the platform's store), for a client that takes certificates
/// rather than a [`ClientConfig`] (lettre). Such a client must add the bundled webpki
/// roots itself (lettre: `CertificateStore::WebpkiRoots`) and [`ca_file_certificates`].
pub fn os_roots() -> &'static [CertificateDer<'static>] {
    &base().os
}

/// The certificates of a PEM CA file (a bundle may hold several), each checked to be
/// usable as a trust anchor. An empty file, a malformed section or an unusable
/// certificate is an error naming the file.
pub fn ca_file_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = std::fs::read(path).map_err(|error| TlsError::ReadCaFile { path: path.to_path_buf(), error })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::Pem { path: path.to_path_buf(), error })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificates { path: path.to_path_buf() });
    }
    let mut check = RootCertStore::empty();
    for cert in &certs {
        check.add(cert.clone()).map_err(|error| TlsError::BadCertificate { path: path.to_path_buf(), error })?;
    }
    Ok(certs)
}

/// A client config for these TLS settings: the OS store, the bundled roots and
/// `opts.ca_file`; or, with `opts.insecure`, any certificate (the CA file is then not
/// read). No ALPN, no client certificate. Building one is cheap once the OS store is
/// loaded (the first call), but callers making many connections should keep theirs.
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().map_err(TlsError::Setup)?;
    let config = if opts.insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerification(provider()))).with_no_client_auth()
    } else {
        let mut roots = base().roots.clone();
        if let Some(path) = &opts.ca_file {
            for cert in ca_file_certificates(path)? {
                roots.add(cert).map_err(|error| TlsError::BadCertificate { path: path.clone(), error })?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The config for default settings (verified, OS store and bundled roots), built once.
pub fn default_config() -> Arc<ClientConfig> {
    static C: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    C.get_or_init(|| {
        // Without a CA file the only possible error is a provider without the default
        // protocol versions, and ring has them.
        client_config(&TlsOptions::default()).expect("the ring provider supports TLS 1.2 and 1.3")
    })
    .clone()
}

/// A reqwest client builder using [`default_config`] (ALPN `http/1.1`): for the daemon's
/// notification client. Add timeouts, user agent and the rest, then `build()`.
pub fn reqwest_builder() -> reqwest::ClientBuilder {
    with_config(&default_config())
}

/// A reqwest client builder using `client_config(opts)` (ALPN `http/1.1`). reqwest's own
/// TLS options (`add_root_certificate`, `danger_accept_invalid_certs`, `tls_built_in_*`)
/// do nothing on it: trust is decided here only.
pub fn reqwest_builder_with(opts: &TlsOptions) -> Result<reqwest::ClientBuilder, TlsError> {
    let config = client_config(opts)?;
    Ok(with_config(&config))
}

fn with_config(config: &ClientConfig) -> reqwest::ClientBuilder {
    let mut config = config.clone();
    // What reqwest itself offers without its http2 feature.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // reqwest recognises the config by its type: this must be the rustls reqwest links.
    reqwest::Client::builder().use_preconfigured_tls(config)
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

#[cfg(test)]
mod tests;
