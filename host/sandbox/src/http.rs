//! The `http` capability: one request performed by the host with reqwest.
//!
//! Redirects are never followed by reqwest itself: when the plugin asks to follow them,
//! this module follows each hop by hand and checks every `Location` against the grants,
//! so a redirect cannot leave what the check was granted. Bodies are read up to a cap.

use picket_core::grants::TlsOptions;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use reqwest::header::LOCATION;
use url::Url;

use super::bindings::picket::plugin::http::{self, Request, Response};
use super::state::HostState;
use super::tcp::millis;
use super::types::{Error as CapError, ErrorKind};

/// The host never reads more body than this, whatever the plugin asks for.
pub const MAX_BODY: u32 = 16 << 20;
const MAX_REDIRECTS: u32 = 10;

/// HTTP clients shared by all runs, one per distinct TLS setting, on the TLS config
/// `picket-tls` makes for it. Connection pooling is off: a health check should prove a
/// *new* connection can be made.
#[derive(Clone, Default)]
pub struct HttpClients {
    clients: Arc<Mutex<HashMap<TlsOptions, reqwest::Client>>>,
}

impl HttpClients {
    pub fn get(&self, tls: &TlsOptions) -> Result<reqwest::Client, String> {
        let mut map = self.clients.lock().unwrap();
        if let Some(c) = map.get(tls) {
            return Ok(c.clone());
        }
        // The TLS config (roots, `ca_file`, `insecure`) is picket-tls's, as for start-tls.
        let b = picket_tls::reqwest_builder_with(tls)
            .map_err(|e| e.to_string())?
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .no_proxy()
            .tls_info(true)
            .user_agent(concat!("picket/", env!("CARGO_PKG_VERSION")));
        let client = b.build().map_err(|e| format!("cannot build HTTP client: {e}"))?;
        map.insert(tls.clone(), client.clone());
        Ok(client)
    }
}

/// The URL with any password replaced, for messages and logs.
fn shown(url: &Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.to_string()
}

fn err(kind: ErrorKind, message: impl Into<String>) -> CapError {
    CapError { kind, message: message.into() }
}

/// Maps reqwest's error to a kind, with the whole source chain in the message (reqwest's
/// own top-level text, "error sending request", says nothing useful on its own).
pub(crate) fn classify(url: &Url, e: &reqwest::Error) -> CapError {
    let mut chain = Vec::new();
    let mut kind = if e.is_timeout() { ErrorKind::Timeout } else { ErrorKind::Io };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push(s.to_string());
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            kind = ErrorKind::Refused;
        }
        source = s.source();
    }
    let text = chain.join(": ");
    if kind == ErrorKind::Io {
        let lower = text.to_lowercase();
        if lower.contains("dns error") || lower.contains("failed to lookup") {
            kind = ErrorKind::Dns;
        } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
            kind = ErrorKind::Tls;
        } else if lower.contains("connection refused") {
            kind = ErrorKind::Refused;
        }
    }
    let what = match kind {
        ErrorKind::Timeout => "timed out".to_string(),
        ErrorKind::Refused => "connection refused".to_string(),
        _ if text.is_empty() => e.to_string(),
        _ => text,
    };
    err(kind, format!("{}: {what}", shown(url)))
}

fn cert_expires_in_s(resp: &reqwest::Response) -> Option<i64> {
    let info = resp.extensions().get::<reqwest::tls::TlsInfo>()?;
    super::tls::expires_in_s(info.peer_certificate()?)
}

impl http::Host for HostState {
    async fn send(&mut self, req: Request) -> Result<Response, CapError> {
        let mut url = Url::parse(&req.url).map_err(|e| err(ErrorKind::Invalid, format!("{:?}: {e}", req.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(err(ErrorKind::Invalid, format!("{url}: only http and https are supported")));
        }
        if !self.run.grants.allows_http(&url) {
            return Err(self.deny(format!("http request to {}", shown(&url))));
        }
        let mut method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| err(ErrorKind::Invalid, format!("{:?} is not an HTTP method", req.method)))?;
        let client = self.run.http.get(&self.run.tls).map_err(|e| err(ErrorKind::Tls, e))?;
        let cap = req.max_body_bytes.min(MAX_BODY) as usize;
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + millis(req.timeout_ms);
        let mut body = req.body;
        let mut redirects = 0;
        loop {
            let mut rb = client.request(method.clone(), url.clone());
            for (k, v) in &req.headers {
                rb = rb.header(k.as_str(), v.as_str());
            }
            if let Some(b) = &body {
                rb = rb.body(b.clone());
            }
            let built = rb.build().map_err(|e| err(ErrorKind::Invalid, format!("{url}: {e}")))?;
            let resp = match tokio::time::timeout_at(deadline, client.execute(built)).await {
                Err(_) => return Err(err(ErrorKind::Timeout, format!("{}: no response within {}ms", shown(&url), req.timeout_ms))),
                Ok(Err(e)) => return Err(classify(&url, &e)),
                Ok(Ok(r)) => r,
            };
            let status = resp.status();
            if req.follow_redirects
                && status.is_redirection()
                && let Some(loc) = resp.headers().get(LOCATION).and_then(|l| l.to_str().ok())
            {
                let next = url.join(loc).map_err(|e| err(ErrorKind::Invalid, format!("bad redirect {loc:?}: {e}")))?;
                if redirects >= MAX_REDIRECTS {
                    return Err(err(ErrorKind::TooLarge, format!("{url}: more than {MAX_REDIRECTS} redirects")));
                }
                if !self.run.grants.allows_http(&next) {
                    return Err(self.deny(format!("http redirect from {} to {}", shown(&url), shown(&next))));
                }
                redirects += 1;
                // As browsers do: 303, and 301/302 after a POST, continue as GET.
                if status == 303 || ((status == 301 || status == 302) && method == reqwest::Method::POST) {
                    method = reqwest::Method::GET;
                    body = None;
                }
                url = next;
                continue;
            }
            let cert = cert_expires_in_s(&resp);
            let headers = resp.headers().iter().map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
            let mut resp = resp;
            let mut data = Vec::new();
            let mut truncated = false;
            loop {
                let chunk = match tokio::time::timeout_at(deadline, resp.chunk()).await {
                    Err(_) => {
                        return Err(err(ErrorKind::Timeout, format!("{}: body not complete within {}ms", shown(&url), req.timeout_ms)));
                    }
                    Ok(Err(e)) => return Err(classify(&url, &e)),
                    Ok(Ok(None)) => break,
                    Ok(Ok(Some(c))) => c,
                };
                let room = cap - data.len();
                if chunk.len() > room {
                    data.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                data.extend_from_slice(&chunk);
            }
            return Ok(Response {
                status: status.as_u16(),
                headers,
                body: data,
                body_truncated: truncated,
                final_url: shown(&url),
                redirects,
                elapsed_us: started.elapsed().as_micros() as u64,
                cert_expires_in_s: cert,
            });
        }
    }
}
