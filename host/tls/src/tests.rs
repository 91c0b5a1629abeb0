use std::net::SocketAddr;
use std::path::PathBuf;

use super::testing::{TestCa, child_addr, handshake, https, is_certificate_error, run_with_os_store};
use super::*;

fn with_ca_file(path: PathBuf) -> TlsOptions {
    TlsOptions { ca_file: Some(path), insecure: false }
}

async fn get(client: reqwest::ClientBuilder, addr: SocketAddr) -> Result<String, reqwest::Error> {
    client.build().unwrap().get(format!("https://127.0.0.1:{}/", addr.port())).send().await?.error_for_status()?.text().await
}

#[tokio::test]
async fn a_ca_file_is_trusted() {
    let ca = TestCa::generate();
    let dir = tempfile::tempdir().unwrap();
    let opts = with_ca_file(ca.write_ca(dir.path()));
    let addr = https(&ca).await;
    handshake(client_config(&opts).unwrap(), addr).await.unwrap();
    assert_eq!(get(reqwest_builder_with(&opts).unwrap(), addr).await.unwrap(), "ok");
}

#[tokio::test]
async fn without_the_ca_the_handshake_fails_on_the_certificate() {
    let ca = TestCa::generate();
    let addr = https(&ca).await;
    let e = handshake(default_config(), addr).await.unwrap_err();
    assert!(is_certificate_error(&e), "{e:?}");
    let e = handshake(client_config(&TlsOptions::default()).unwrap(), addr).await.unwrap_err();
    assert!(is_certificate_error(&e), "{e:?}");
    // Another CA's file does not help.
    let dir = tempfile::tempdir().unwrap();
    let other = with_ca_file(TestCa::generate().write_ca(dir.path()));
    let e = handshake(client_config(&other).unwrap(), addr).await.unwrap_err();
    assert!(is_certificate_error(&e), "{e:?}");
    // The daemon's reqwest client is no different.
    let e = get(reqwest_builder(), addr).await.unwrap_err();
    assert!(format!("{:?}", e).contains("InvalidCertificate"), "{e:?}");
}

#[tokio::test]
async fn insecure_accepts_any_certificate_and_reads_no_ca_file() {
    let ca = TestCa::generate();
    let addr = https(&ca).await;
    let opts = TlsOptions { ca_file: Some("/nonexistent/ca.pem".into()), insecure: true };
    handshake(client_config(&opts).unwrap(), addr).await.unwrap();
    assert_eq!(get(reqwest_builder_with(&opts).unwrap(), addr).await.unwrap(), "ok");
}

#[test]
fn ca_file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let e = client_config(&with_ca_file(missing.clone())).unwrap_err();
    assert!(matches!(e, TlsError::ReadCaFile { .. }), "{e:?}");
    assert!(e.to_string().starts_with(&format!("cannot read CA file {}: ", missing.display())), "{e}");

    let cases = [
        ("empty.pem", "no certificates here\n", "holds no PEM certificates"),
        ("broken.pem", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", "is not valid PEM"),
        ("junk.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a usable CA certificate"),
    ];
    for (name, text, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let e = client_config(&with_ca_file(path.clone())).unwrap_err();
        let shown = e.to_string();
        assert!(shown.contains(&path.display().to_string()) && shown.contains(want), "{name}: {shown}");
        assert_eq!(ca_file_certificates(&path).unwrap_err().to_string(), shown);
    }

    // A bundle: every certificate in it.
    let bundle = dir.path().join("bundle.pem");
    std::fs::write(&bundle, format!("{}{}", TestCa::generate().ca_pem(), TestCa::generate().ca_pem())).unwrap();
    assert_eq!(ca_file_certificates(&bundle).unwrap().len(), 2);
}

/// The "OS store" path: the CA only in `SSL_CERT_FILE`, read by rustls-native-certs, in a
/// child process running [`os_store_child`].
#[tokio::test]
async fn the_os_store_is_trusted() {
    let ca = TestCa::generate();
    let dir = tempfile::tempdir().unwrap();
    let addr = https(&ca).await;
    run_with_os_store("tests::os_store_child", &ca.write_ca(dir.path()), addr).await;
}

#[tokio::test]
#[ignore = "run by the_os_store_is_trusted in a child process with SSL_CERT_FILE set"]
async fn os_store_child() {
    let Some(addr) = child_addr() else { return };
    // SSL_CERT_FILE replaces the platform's store: it holds the test CA only.
    assert_eq!(os_roots().len(), 1);
    handshake(default_config(), addr).await.expect("a CA in the OS store is trusted");
    handshake(client_config(&TlsOptions::default()).unwrap(), addr).await.unwrap();
    assert_eq!(get(reqwest_builder(), addr).await.unwrap(), "ok");
}
