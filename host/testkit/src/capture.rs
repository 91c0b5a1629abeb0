//! Receivers for notifications: an HTTP capture server that records every request (and
//! can be switched "down" to answer 503), and a minimal SMTP server that records mail.
//! Both run on their own threads on loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::daemon::eventually;
use super::servers::{HttpServer, Reply, Seen};

pub struct Capture {
    pub server: HttpServer,
    seen: Arc<Mutex<Vec<Seen>>>,
    down: Arc<AtomicBool>,
}

impl Capture {
    pub fn start() -> Capture {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let down = Arc::new(AtomicBool::new(false));
        let (s, d) = (seen.clone(), down.clone());
        let server = HttpServer::start(move |req| {
            if d.load(Ordering::SeqCst) {
                return Reply::status(503, "receiver down");
            }
            s.lock().unwrap().push(req.clone());
            Reply::status(202, "{\"status\":\"success\"}")
        });
        Capture { server, seen, down }
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Accepted request bodies as JSON, in arrival order.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.seen().iter().map(|s| serde_json::from_str(&s.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", s.body))).collect()
    }

    /// Waits until `n` requests were accepted.
    pub fn wait_for(&self, n: usize, within: Duration) -> Vec<serde_json::Value> {
        eventually(within, &format!("{n} notifications at the receiver"), || {
            let b = self.bodies();
            (b.len() >= n).then_some(b)
        })
    }
}

pub fn header<'a>(s: &'a Seen, name: &str) -> Option<&'a str> {
    s.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// One mail as the SMTP server received it.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    /// Whether it arrived over STARTTLS.
    pub tls: bool,
    pub auth: Option<(String, String)>,
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// An SMTP server (EHLO, STARTTLS, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, QUIT), enough for lettre.
pub struct Smtp {
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
}

/// Standard base64, decoded by hand (AUTH payloads are a few bytes).
fn b64(s: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut bits, mut n, mut out) = (0u32, 0, Vec::new());
    for c in s.trim().bytes().take_while(|c| *c != b'=') {
        let Some(v) = ALPHABET.iter().position(|a| *a == c) else { continue };
        bits = (bits << 6) | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Smtp {
    /// Plain SMTP.
    pub fn start() -> Smtp {
        Self::start_with(None)
    }

    /// SMTP that offers STARTTLS with `tls`'s certificate and refuses AUTH before it.
    pub fn start_tls(tls: std::sync::Arc<rustls::ServerConfig>) -> Smtp {
        Self::start_with(Some(tls))
    }

    fn start_with(tls: Option<std::sync::Arc<rustls::ServerConfig>>) -> Smtp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let m = mails.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let (m, tls) = (m.clone(), tls.clone());
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                    let _ = conn.write_all(b"220 test ESMTP\r\n");
                    let offer_tls = tls.is_some();
                    if dialogue(&mut conn, offer_tls, false, &m) == Next::StartTls
                        && let Some(cfg) = tls
                        && let Ok(server) = rustls::ServerConnection::new(cfg)
                    {
                        let mut stream = rustls::StreamOwned::new(server, conn);
                        dialogue(&mut stream, false, true, &m);
                    }
                });
            }
        });
        Smtp { addr, mails }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

#[derive(PartialEq)]
enum Next {
    Done,
    StartTls,
}

/// One SMTP conversation until QUIT, EOF, or STARTTLS (the caller wraps the stream).
fn dialogue<S: Read + Write>(stream: &mut S, offer_tls: bool, secure: bool, mails: &Mutex<Vec<Mail>>) -> Next {
    let mut r = BufReader::new(stream);
    let say = |r: &mut BufReader<&mut S>, s: &str| {
        let _ = r.get_mut().write_all(format!("{s}\r\n").as_bytes());
        let _ = r.get_mut().flush();
    };
    let mut mail = Mail { tls: secure, ..Mail::default() };
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return Next::Done;
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            if offer_tls {
                say(&mut r, "250-test\r\n250-STARTTLS\r\n250 8BITMIME");
            } else {
                say(&mut r, "250-test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME");
            }
        } else if upper == "STARTTLS" && offer_tls {
            say(&mut r, "220 ready to start TLS");
            return Next::StartTls;
        } else if upper.starts_with("AUTH") && offer_tls {
            say(&mut r, "530 must issue STARTTLS first");
        } else if upper.starts_with("AUTH PLAIN") {
            let decoded = b64(cmd.split_whitespace().nth(2).unwrap_or(""));
            let parts: Vec<&str> = decoded.split('\0').collect();
            mail.auth = Some((parts.get(1).unwrap_or(&"").to_string(), parts.get(2).unwrap_or(&"").to_string()));
            say(&mut r, "235 ok");
        } else if upper.starts_with("AUTH LOGIN") {
            say(&mut r, "334 VXNlcm5hbWU6");
            let mut u = String::new();
            let _ = r.read_line(&mut u);
            say(&mut r, "334 UGFzc3dvcmQ6");
            let mut p = String::new();
            let _ = r.read_line(&mut p);
            mail.auth = Some((b64(&u), b64(&p)));
            say(&mut r, "235 ok");
        } else if upper.starts_with("MAIL FROM:") {
            mail.from = cmd[10..].trim().to_string();
            say(&mut r, "250 ok");
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(cmd[8..].trim().to_string());
            say(&mut r, "250 ok");
        } else if upper == "DATA" {
            say(&mut r, "354 go on");
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).unwrap_or(0) == 0 || l == ".\r\n" {
                    break;
                }
                data.push_str(&l);
            }
            mail.data = data;
            let auth = mail.auth.clone();
            let done = std::mem::replace(&mut mail, Mail { tls: secure, auth, ..Mail::default() });
            mails.lock().unwrap().push(done);
            say(&mut r, "250 queued");
        } else if upper == "QUIT" {
            say(&mut r, "221 bye");
            return Next::Done;
        } else if upper == "RSET" || upper == "NOOP" {
            say(&mut r, "250 ok");
        } else {
            say(&mut r, "502 not implemented");
        }
    }
}
