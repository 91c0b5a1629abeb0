//! `kind = "email"`: SMTP through lettre. STARTTLS on port 587 by default; `tls = "tls"`
//! for implicit TLS (465); `tls = "none"` only for a relay on loopback.
//!
//! ```toml
//! [notify.mail]
//! kind = "email"
//! server = "smtp.example.com"
//! port = 587                               # default by tls: 587, 465, 25
//! tls = "starttls"                         # starttls | tls | none
//! from = "picket <picket@example.com>"
//! to = ["ops@example.com"]
//! username = "picket"
//! password = { env = "SMTP_PASSWORD" }
//! ca_file = "relay-ca.pem"                 # optional: trust this CA (a private relay)
//! ```
//!
//! With `tls = "starttls"` the upgrade is required: a server that does not offer it, or
//! whose certificate does not verify, gets nothing — not even the credentials.
//!
//! The relay's certificate is verified against what `picket-tls` trusts for every TLS
//! client in picket: the OS store, the bundled webpki roots and `ca_file`. lettre 0.11
//! takes no rustls `ClientConfig`, so it gets those roots as certificates.

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{FieldError, Fields, Notification, Provider, SendContext, SendError, SendFuture};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Security {
    StartTls,
    Tls,
    None,
}

pub struct Email {
    server: String,
    port: u16,
    security: Security,
    from: Mailbox,
    to: Vec<Mailbox>,
    credentials: Option<(String, String)>,
    /// Extra trusted CA certificates (`ca_file`, read when the channel is parsed).
    ca_certs: Vec<Certificate>,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email").field("server", &self.server).field("port", &self.port).field("to", &self.to.len()).finish()
    }
}

/// The plain-text body.
pub fn body(n: &Notification) -> String {
    let mut lines = vec![n.headline(), String::new()];
    let mut field = |k: &str, v: String| lines.push(format!("{k:<18} {v}"));
    field("Check:", n.check.clone());
    field("Severity:", n.severity.as_str().into());
    field("Incident:", format!("{} ({})", n.incident, n.dedup_key));
    if let Some(v) = n.values_line() {
        field("Value:", v);
    }
    field("Since:", n.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    if let Some(s) = n.lasted_s {
        field("Lasted:", picket_core::units::format_duration(std::time::Duration::from_secs(s)));
    }
    field("Target:", n.target.clone());
    field("Recovery attempts:", n.recovery_attempts.to_string());
    if let Some(r) = &n.runbook {
        field("Runbook:", r.clone());
    }
    if let Some(d) = &n.description {
        lines.push(String::new());
        lines.push(d.clone());
    }
    lines.push(String::new());
    lines.push(format!("-- {}", n.source));
    lines.join("\r\n")
}

impl Email {
    pub fn parse(f: &Fields) -> Result<Email, FieldError> {
        let server = f.str("server")?;
        let security = match f.opt_str("tls")?.as_deref() {
            None | Some("starttls") => Security::StartTls,
            Some("tls") => Security::Tls,
            Some("none") => Security::None,
            Some(_) => return Err(FieldError::new("tls", "expected \"starttls\", \"tls\" or \"none\"")),
        };
        if security == Security::None && !is_loopback(&server) {
            return Err(FieldError::new(
                "tls",
                "\"none\" sends credentials and alerts in clear; it is allowed only for a relay on loopback",
            ));
        }
        let port = f.opt_u16("port")?.unwrap_or(match security {
            Security::StartTls => 587,
            Security::Tls => 465,
            Security::None => 25,
        });
        let mailbox =
            |field: &str, s: &str| s.parse::<Mailbox>().map_err(|e| FieldError::new(field, format!("{s:?} is not an address: {e}")));
        let from = mailbox("from", &f.str("from")?)?;
        let to = f.string_list("to")?.iter().map(|s| mailbox("to", s)).collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(FieldError::new("to", "give at least one recipient"));
        }
        let credentials = match (f.opt_str("username")?, f.opt_str("password")?) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            (Some(_), None) => return Err(FieldError::new("password", "`username` needs a `password`")),
            (None, Some(_)) => return Err(FieldError::new("username", "`password` needs a `username`")),
        };
        let ca_file = f.opt_str("ca_file")?;
        if ca_file.is_some() && security == Security::None {
            return Err(FieldError::new("ca_file", "goes with tls = \"starttls\" or \"tls\""));
        }
        let ca_certs = match ca_file {
            Some(path) => picket_tls::ca_file_certificates(std::path::Path::new(&path))
                .map_err(|e| FieldError::new("ca_file", e.to_string()))?
                .into_iter()
                .map(|der| certificate(&der).map_err(|e| FieldError::new("ca_file", format!("{path}: {e}"))))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        Ok(Email { server, port, security, from, to, credentials, ca_certs })
    }

    /// The relay's name and the roots picket-tls trusts: the OS store (loaded once per
    /// process), the bundled webpki roots (lettre's `WebpkiRoots` store is that same
    /// crate's list) and `ca_file`.
    fn tls_parameters(&self, server: &str) -> Result<TlsParameters, SendError> {
        let mut b = TlsParameters::builder(server.to_string()).certificate_store(CertificateStore::WebpkiRoots);
        for der in picket_tls::os_roots() {
            b = b.add_root_certificate(certificate(der).map_err(|e| SendError::fatal(format!("OS certificate store: {e}")))?);
        }
        for cert in &self.ca_certs {
            b = b.add_root_certificate(cert.clone());
        }
        b.build_rustls().map_err(|e| SendError::fatal(format!("TLS setup: {e}")))
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        let tls = |server: &str| self.tls_parameters(server);
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.server).port(self.port);
        b = match self.security {
            Security::StartTls => b.tls(Tls::Required(tls(&self.server)?)),
            Security::Tls => b.tls(Tls::Wrapper(tls(&self.server)?)),
            Security::None => b.tls(Tls::None),
        };
        if let Some((u, p)) = &self.credentials {
            b = b.credentials(Credentials::new(u.clone(), p.clone()));
        }
        Ok(b.timeout(Some(std::time::Duration::from_secs(20))).build())
    }
}

fn certificate(der: &[u8]) -> Result<Certificate, lettre::transport::smtp::Error> {
    Certificate::from_der(der.to_vec())
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Provider for Email {
    fn kind(&self) -> &'static str {
        "email"
    }

    fn send<'a>(&'a self, n: &'a Notification, cx: &'a SendContext) -> SendFuture<'a> {
        Box::pin(async move {
            let mut m = Message::builder()
                .from(self.from.clone())
                .subject(format!("[picket] {}", n.headline()).chars().take(200).collect::<String>())
                .header(ContentType::TEXT_PLAIN)
                .message_id(Some(format!("<{}.{}@picket>", n.dedup_key.replace('/', "."), cx.delivery)));
            for to in &self.to {
                m = m.to(to.clone());
            }
            let message = m.body(body(n)).map_err(|e| SendError::fatal(format!("cannot build the message: {e}")))?;
            match self.transport()?.send(message).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(SendError::fatal(format!("SMTP refused: {e}"))),
                Err(e) => Err(SendError::retry(format!("SMTP: {e}"))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use picket_tls::testing::{TestCa, child_addr, run_with_os_store, serve};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    use super::*;

    /// An SMTP server with implicit TLS (port 465 style) on loopback, presenting `ca`'s
    /// certificate; returns its address and the messages it accepted.
    async fn relay(ca: &TestCa) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
        let mails = Arc::new(Mutex::new(Vec::new()));
        let kept = mails.clone();
        let addr = serve(ca, move |tls| {
            let mails = kept.clone();
            async move {
                let (r, mut w) = tokio::io::split(tls);
                let mut lines = BufReader::new(r).lines();
                let mut data: Option<String> = None;
                let _ = w.write_all(b"220 localhost ESMTP test\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(d) = &mut data {
                        if line == "." {
                            mails.lock().unwrap().push(data.take().unwrap());
                            let _ = w.write_all(b"250 queued\r\n").await;
                        } else {
                            d.push_str(&line);
                            d.push('\n');
                        }
                        continue;
                    }
                    let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250-localhost\r\n250 8BITMIME\r\n",
                        "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 ok\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"502 not implemented\r\n",
                    };
                    let _ = w.write_all(reply).await;
                }
            }
        })
        .await;
        (addr, mails)
    }

    fn channel(addr: SocketAddr, ca_file: Option<&std::path::Path>) -> Email {
        let mut f = BTreeMap::new();
        f.insert("server".to_string(), serde_json::json!("127.0.0.1"));
        f.insert("port".to_string(), serde_json::json!(addr.port()));
        f.insert("tls".to_string(), serde_json::json!("tls"));
        f.insert("from".to_string(), serde_json::json!("picket@example.com"));
        f.insert("to".to_string(), serde_json::json!(["ops@example.com"]));
        if let Some(path) = ca_file {
            f.insert("ca_file".to_string(), serde_json::json!(path.display().to_string()));
        }
        Email::parse(&Fields::new(f)).unwrap()
    }

    fn notification() -> Notification {
        serde_json::from_value(serde_json::json!({
            "kind": "trigger", "check": "api", "incident": 1, "dedup_key": "api/1", "severity": "critical",
            "summary": "down", "plugin": "http", "target": "http://127.0.0.1/", "at": "2025-01-01T00:00:00Z",
            "since": "2025-01-01T00:00:00Z", "failures": 3, "recovery_attempts": 0, "route": "critical",
            "values": [], "source": "picket@test"
        }))
        .unwrap()
    }

    async fn send(email: &Email) -> Result<(), SendError> {
        let cx = SendContext { http: reqwest::Client::new(), delivery: 7 };
        email.send(&notification(), &cx).await
    }

    #[tokio::test]
    async fn the_relay_is_trusted_through_ca_file_only() {
        let ca = TestCa::generate();
        let dir = tempfile::tempdir().unwrap();
        let (addr, mails) = relay(&ca).await;
        let e = send(&channel(addr, None)).await.unwrap_err();
        assert!(e.message.to_lowercase().contains("certificate"), "{e:?}");
        assert!(mails.lock().unwrap().is_empty());
        send(&channel(addr, Some(&ca.write_ca(dir.path())))).await.unwrap();
        let mails = mails.lock().unwrap();
        assert_eq!(mails.len(), 1);
        assert!(mails[0].contains("Subject: [picket] "), "{}", mails[0]);
    }

    #[test]
    fn a_bad_ca_file_is_a_field_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay-ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let mut f = BTreeMap::new();
        for (k, v) in [("server", "smtp.example.com"), ("from", "picket@example.com"), ("ca_file", &path.display().to_string())] {
            f.insert(k.to_string(), serde_json::json!(v));
        }
        f.insert("to".to_string(), serde_json::json!(["ops@example.com"]));
        let e = Email::parse(&Fields::new(f)).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("ca_file"));
        assert!(e.message.contains(&path.display().to_string()) && e.message.contains("no PEM certificates"), "{}", e.message);
    }

    /// The defect this guards against: a private CA in the OS store was trusted by the
    /// webhook-style notifiers but not by e-mail. Here the relay's CA is only in
    /// `SSL_CERT_FILE`, in a child process running [`os_store_child`].
    #[tokio::test]
    async fn the_relay_is_trusted_through_the_os_store() {
        let ca = TestCa::generate();
        let dir = tempfile::tempdir().unwrap();
        let (addr, _mails) = relay(&ca).await;
        run_with_os_store("email::tests::os_store_child", &ca.write_ca(dir.path()), addr).await;
    }

    #[tokio::test]
    #[ignore = "run by the_relay_is_trusted_through_the_os_store in a child process with SSL_CERT_FILE set"]
    async fn os_store_child() {
        let Some(addr) = child_addr() else { return };
        send(&channel(addr, None)).await.expect("a relay whose CA is in the OS store is trusted");
    }
}
