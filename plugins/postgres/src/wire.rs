//! The PostgreSQL v3 frontend/backend protocol: just the messages a health check needs.

use std::io::{self, BufRead, Write};

/// Largest backend message accepted.
const MAX_MESSAGE: usize = 16 << 20;

pub const SSL_REQUEST_CODE: i32 = 80877103;

/// A backend message: its type byte and body.
pub struct Message {
    pub tag: u8,
    pub body: Vec<u8>,
}

/// A server ErrorResponse.
#[derive(Debug, Clone)]
pub struct PgError {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

pub fn read_message<R: BufRead>(r: &mut R) -> io::Result<Message> {
    let mut head = [0u8; 5];
    r.read_exact(&mut head)?;
    let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    if !(4..=MAX_MESSAGE as i32).contains(&len) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message {:?} with length {len}; is this a PostgreSQL server?", head[0] as char),
        ));
    }
    let mut body = vec![0u8; len as usize - 4];
    r.read_exact(&mut body)?;
    Ok(Message { tag: head[0], body })
}

/// A frontend message with a type byte.
pub fn write_message<W: Write>(w: &mut W, tag: u8, body: &[u8]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(body.len() + 5);
    buf.push(tag);
    buf.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    buf.extend_from_slice(body);
    w.write_all(&buf)
}

/// The untagged startup message (protocol 3.0).
pub fn startup<W: Write>(w: &mut W, user: &str, database: &str) -> io::Result<()> {
    let mut body = 196608i32.to_be_bytes().to_vec();
    for (k, v) in [("user", user), ("database", database), ("application_name", "picket"), ("client_encoding", "UTF8")] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut buf = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    buf.extend_from_slice(&body);
    w.write_all(&buf)?;
    w.flush()
}

pub fn ssl_request<W: Write>(w: &mut W) -> io::Result<()> {
    let mut buf = 8i32.to_be_bytes().to_vec();
    buf.extend_from_slice(&SSL_REQUEST_CODE.to_be_bytes());
    w.write_all(&buf)?;
    w.flush()
}

pub fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// Parses an ErrorResponse (or NoticeResponse) body.
pub fn parse_error(body: &[u8]) -> PgError {
    let mut code = String::new();
    let mut message = String::new();
    let mut rest = body;
    while let Some((&field, tail)) = rest.split_first() {
        if field == 0 {
            break;
        }
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        let value = String::from_utf8_lossy(&tail[..end]).into_owned();
        match field {
            b'C' => code = value,
            b'M' => message = value,
            _ => {}
        }
        rest = tail.get(end + 1..).unwrap_or(&[]);
    }
    PgError { code, message }
}

/// The columns of a DataRow, as text (None for NULL).
pub fn parse_data_row(body: &[u8]) -> io::Result<Vec<Option<String>>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed DataRow");
    let n = i16::from_be_bytes(body.get(0..2).ok_or_else(bad)?.try_into().unwrap());
    let mut pos = 2;
    let mut cols = Vec::with_capacity(n.max(0) as usize);
    for _ in 0..n {
        let len = i32::from_be_bytes(body.get(pos..pos + 4).ok_or_else(bad)?.try_into().unwrap());
        pos += 4;
        if len < 0 {
            cols.push(None);
            continue;
        }
        let data = body.get(pos..pos + len as usize).ok_or_else(bad)?;
        cols.push(Some(String::from_utf8_lossy(data).into_owned()));
        pos += len as usize;
    }
    Ok(cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_fields() {
        let e = parse_error(b"SFATAL\0C28P01\0Mpassword authentication failed for user \"app\"\0\0");
        assert_eq!(e.code, "28P01");
        assert_eq!(e.message, "password authentication failed for user \"app\"");
    }

    #[test]
    fn data_rows_with_nulls() {
        let mut body = 2i16.to_be_bytes().to_vec();
        body.extend_from_slice(&2i32.to_be_bytes());
        body.extend_from_slice(b"42");
        body.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(parse_data_row(&body).unwrap(), vec![Some("42".into()), None]);
        assert!(parse_data_row(&body[..5]).is_err());
    }

    #[test]
    fn framing() {
        let mut out = Vec::new();
        write_message(&mut out, b'Q', &cstr("SELECT 1")).unwrap();
        assert_eq!(out, b"Q\0\0\0\x0dSELECT 1\0");
        let mut r = &b"Z\0\0\0\x05I"[..];
        let m = read_message(&mut r).unwrap();
        assert_eq!((m.tag, m.body), (b'Z', b"I".to_vec()));
    }
}
