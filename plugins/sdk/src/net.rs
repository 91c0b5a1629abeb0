//! `std::io::Read` and `Write` over the host's `tcp` capability, so protocol code (RESP,
//! the PostgreSQL wire protocol, a banner check) can use ordinary buffered I/O.

use std::io;

use crate::cap::tcp;
use crate::{CapError, ErrorKind, Report};

/// A TCP connection made by the host on the plugin's behalf.
pub struct TcpStream {
    conn: tcp::Connection,
    timeout_ms: u32,
}

impl TcpStream {
    /// Connects to a granted `host:port`; `timeout_ms` also bounds each later read and write.
    pub fn connect(host: &str, port: u16, timeout_ms: u32) -> Result<Self, CapError> {
        let conn = tcp::connect(host, port, timeout_ms)?;
        Ok(TcpStream { conn, timeout_ms })
    }
    pub fn peer(&self) -> String {
        self.conn.peer()
    }
    pub fn set_timeout_ms(&mut self, timeout_ms: u32) {
        self.timeout_ms = timeout_ms;
    }
    /// Upgrades the connection to TLS (the host does the handshake and verification).
    pub fn start_tls(&mut self) -> Result<(), CapError> {
        self.conn.start_tls(self.timeout_ms)
    }
    /// Days until the peer certificate expires, once TLS is started.
    pub fn cert_expires_days(&self) -> Option<f64> {
        self.conn.cert_expires_in_s().map(|s| s as f64 / 86_400.0)
    }
}

/// Connects, or returns the critical report every TCP-based check gives for a failed
/// connect: "db:5432: connection refused", "db:5432: connect timed out after 900ms".
pub fn connect_or_report(host: &str, port: u16, timeout_ms: u32) -> Result<TcpStream, Report> {
    TcpStream::connect(host, port, timeout_ms).map_err(|e| {
        let what = match e.kind {
            ErrorKind::Refused => "connection refused".to_string(),
            ErrorKind::Timeout => format!("connect timed out after {timeout_ms}ms"),
            _ => e.message.clone(),
        };
        Report::critical(format!("{host}:{port}: {what}"))
    })
}

/// The report for an I/O error while talking a protocol: a timeout or a dropped
/// connection is critical (the service is unwell), garbage is unknown (wrong service?).
pub fn io_report(what: &str, e: &io::Error) -> Report {
    match e.kind() {
        io::ErrorKind::TimedOut => Report::critical(format!("{what}: no reply (timed out)")),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => {
            Report::critical(format!("{what}: the server closed the connection"))
        }
        io::ErrorKind::InvalidData => Report::unknown(format!("{what}: protocol error: {e}")),
        _ => Report::critical(format!("{what}: {e}")),
    }
}

fn to_io(e: CapError) -> io::Error {
    let kind = match e.kind {
        ErrorKind::Timeout => io::ErrorKind::TimedOut,
        ErrorKind::Refused => io::ErrorKind::ConnectionRefused,
        ErrorKind::Denied => io::ErrorKind::PermissionDenied,
        ErrorKind::Closed => io::ErrorKind::ConnectionReset,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e.message)
}

impl io::Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let max = buf.len().min(1 << 20) as u32;
        let data = self.conn.receive(max, self.timeout_ms).map_err(to_io)?;
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }
}

impl io::Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.conn.send(buf, self.timeout_ms).map_err(to_io)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
