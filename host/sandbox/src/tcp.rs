//! The `tcp` capability: connections to granted host:port pairs, made by the host so it
//! sees the name before DNS, enforces timeouts and caps, and logs every attempt.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmtime::component::Resource;

use super::bindings::picket::plugin::tcp;
use super::state::HostState;
use super::tls::{expires_in_s, server_name};
use super::types::{Error as CapError, ErrorKind};

/// Connections one run may hold open at once.
pub const MAX_CONNECTIONS: u32 = 16;
/// Bytes one `receive` call may return.
pub const MAX_RECEIVE: u32 = 1 << 20;

/// An open connection, held in the store's resource table.
pub struct Connection {
    /// `None` only while a TLS handshake has taken the stream (or after it failed).
    stream: Option<Stream>,
    peer: SocketAddr,
    /// The name the plugin connected to, verified against the certificate.
    host: String,
    cert_expires_in_s: Option<i64>,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Connection {
    fn stream(&mut self) -> Result<&mut Stream, CapError> {
        let peer = self.peer;
        self.stream.as_mut().ok_or_else(|| err(ErrorKind::Closed, format!("connection to {peer} was closed by a failed TLS handshake")))
    }
}

impl Stream {
    async fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(data).await,
            Stream::Tls(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
        }
    }
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
        }
    }
}

fn err(kind: ErrorKind, message: impl Into<String>) -> CapError {
    CapError { kind, message: message.into() }
}

pub(crate) fn millis(ms: u32) -> Duration {
    Duration::from_millis(u64::from(ms.max(1)))
}

pub(crate) fn io_error(context: &str, e: &std::io::Error) -> CapError {
    let kind = match e.kind() {
        std::io::ErrorKind::ConnectionRefused => ErrorKind::Refused,
        std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
        std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::BrokenPipe
        | std::io::ErrorKind::ConnectionAborted
        | std::io::ErrorKind::UnexpectedEof => ErrorKind::Closed,
        _ => ErrorKind::Io,
    };
    err(kind, format!("{context}: {e}"))
}

impl tcp::Host for HostState {
    async fn connect(&mut self, host: String, port: u16, timeout_ms: u32) -> Result<Resource<Connection>, CapError> {
        if !self.run.grants.allows_tcp(&host, port) {
            return Err(self.deny(format!("tcp connect to {host}:{port}")));
        }
        if self.open_connections >= MAX_CONNECTIONS {
            return Err(err(ErrorKind::TooLarge, format!("more than {MAX_CONNECTIONS} open connections")));
        }
        let deadline = tokio::time::Instant::now() + millis(timeout_ms);
        // The name as granted (lowercase, IDNA): what is resolved and verified under TLS.
        let name = picket_core::grants::normalize_host(&host).unwrap_or_else(|| host.trim_matches(['[', ']']).to_string());
        let addrs: Vec<SocketAddr> = match tokio::time::timeout_at(deadline, tokio::net::lookup_host((name.as_str(), port))).await {
            Err(_) => return Err(err(ErrorKind::Timeout, format!("resolving {host} timed out"))),
            Ok(Err(e)) => return Err(err(ErrorKind::Dns, format!("cannot resolve {host}: {e}"))),
            Ok(Ok(a)) => a.collect(),
        };
        let mut last = err(ErrorKind::Dns, format!("{host} resolved to no addresses"));
        for addr in addrs {
            match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
                Err(_) => {
                    last = err(ErrorKind::Timeout, format!("connect to {addr} timed out after {timeout_ms}ms"));
                    break;
                }
                Ok(Err(e)) => last = io_error(&format!("connect to {addr}"), &e),
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    tracing::debug!(check = %self.run.check, %addr, "tcp connected");
                    self.open_connections += 1;
                    return self
                        .table
                        .push(Connection { stream: Some(Stream::Plain(stream)), peer: addr, host: name, cert_expires_in_s: None })
                        .map_err(|e| err(ErrorKind::Io, e.to_string()));
                }
            }
        }
        Err(last)
    }
}

impl tcp::HostConnection for HostState {
    async fn send(&mut self, conn: Resource<Connection>, data: Vec<u8>, timeout_ms: u32) -> Result<(), CapError> {
        let c = self.table.get_mut(&conn).map_err(|e| err(ErrorKind::Closed, e.to_string()))?;
        let peer = c.peer;
        match tokio::time::timeout(millis(timeout_ms), c.stream()?.write_all(&data)).await {
            Err(_) => Err(err(ErrorKind::Timeout, format!("send to {peer} timed out after {timeout_ms}ms"))),
            Ok(Err(e)) => Err(io_error(&format!("send to {peer}"), &e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    async fn receive(&mut self, conn: Resource<Connection>, max_bytes: u32, timeout_ms: u32) -> Result<Vec<u8>, CapError> {
        let c = self.table.get_mut(&conn).map_err(|e| err(ErrorKind::Closed, e.to_string()))?;
        let mut buf = vec![0u8; max_bytes.clamp(1, MAX_RECEIVE) as usize];
        let peer = c.peer;
        match tokio::time::timeout(millis(timeout_ms), c.stream()?.read(&mut buf)).await {
            Err(_) => Err(err(ErrorKind::Timeout, format!("no reply from {peer} within {timeout_ms}ms"))),
            Ok(Err(e)) => Err(io_error(&format!("receive from {peer}"), &e)),
            Ok(Ok(n)) => {
                buf.truncate(n);
                Ok(buf)
            }
        }
    }

    async fn peer(&mut self, conn: Resource<Connection>) -> String {
        self.table.get(&conn).map(|c| c.peer.to_string()).unwrap_or_default()
    }

    async fn start_tls(&mut self, conn: Resource<Connection>, timeout_ms: u32) -> Result<(), CapError> {
        let config = self.run.tls_configs.get(&self.run.tls).map_err(|e| err(ErrorKind::Tls, e))?;
        let c = self.table.get_mut(&conn).map_err(|e| err(ErrorKind::Closed, e.to_string()))?;
        let name = server_name(&c.host).map_err(|e| err(ErrorKind::Tls, e))?;
        let plain = match c.stream.take() {
            Some(Stream::Plain(s)) => s,
            Some(tls @ Stream::Tls(_)) => {
                c.stream = Some(tls);
                return Err(err(ErrorKind::Invalid, "TLS is already started on this connection"));
            }
            None => return Err(err(ErrorKind::Closed, "connection is closed")),
        };
        let connector = tokio_rustls::TlsConnector::from(config);
        let peer = c.peer;
        match tokio::time::timeout(millis(timeout_ms), connector.connect(name, plain)).await {
            Err(_) => Err(err(ErrorKind::Timeout, format!("TLS handshake with {peer} timed out after {timeout_ms}ms"))),
            Ok(Err(e)) => Err(err(ErrorKind::Tls, format!("TLS handshake with {peer} ({}): {e}", c.host))),
            Ok(Ok(tls)) => {
                c.cert_expires_in_s = tls.get_ref().1.peer_certificates().and_then(|certs| certs.first()).and_then(|der| expires_in_s(der));
                c.stream = Some(Stream::Tls(Box::new(tls)));
                tracing::debug!(check = %self.run.check, %peer, "tls established");
                Ok(())
            }
        }
    }

    async fn cert_expires_in_s(&mut self, conn: Resource<Connection>) -> Option<i64> {
        self.table.get(&conn).ok().and_then(|c| c.cert_expires_in_s)
    }

    async fn drop(&mut self, conn: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        self.open_connections = self.open_connections.saturating_sub(1);
        Ok(())
    }
}
