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

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
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
    /// Extra trusted CA certificates (PEM).
    ca_pem: Option<Vec<u8>>,
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
        let ca_pem = match f.opt_str("ca_file")? {
            Some(path) => {
                let pem = std::fs::read(&path).map_err(|e| FieldError::new("ca_file", format!("cannot read {path}: {e}")))?;
                lettre::transport::smtp::client::Certificate::from_pem(&pem)
                    .map_err(|e| FieldError::new("ca_file", format!("{path} is not a PEM certificate: {e}")))?;
                Some(pem)
            }
            None => None,
        };
        if ca_pem.is_some() && security == Security::None {
            return Err(FieldError::new("ca_file", "goes with tls = \"starttls\" or \"tls\""));
        }
        Ok(Email { server, port, security, from, to, credentials, ca_pem })
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        let tls = |server: &str| {
            let mut b = TlsParameters::builder(server.to_string());
            if let Some(pem) = &self.ca_pem {
                let cert =
                    lettre::transport::smtp::client::Certificate::from_pem(pem).map_err(|e| SendError::fatal(format!("ca_file: {e}")))?;
                b = b.add_root_certificate(cert);
            }
            b.build_rustls().map_err(|e| SendError::fatal(format!("TLS setup: {e}")))
        };
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
