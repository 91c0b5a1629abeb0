//! RESP, the Redis protocol: commands out as arrays of bulk strings, replies in.

use std::io::{self, BufRead, Write};

/// A reply from a Redis server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The reply as text, for simple strings and bulk strings.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Simple(s) => Some(s.clone()),
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// Writes one command.
pub fn write_command<W: Write>(w: &mut W, args: &[&[u8]]) -> io::Result<()> {
    let mut buf = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
    w.write_all(&buf)?;
    w.flush()
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads one reply. Bulk strings over 64 MiB are refused.
pub fn read_reply<R: BufRead>(r: &mut R) -> io::Result<Reply> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    if !line.ends_with(b"\r\n") {
        return Err(bad(format!("not a RESP reply: {:?}", String::from_utf8_lossy(&line))));
    }
    let body = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
    let int = |s: &str| s.parse::<i64>().map_err(|_| bad(format!("bad RESP length {s:?}")));
    match line[0] {
        b'+' => Ok(Reply::Simple(body)),
        b'-' => Ok(Reply::Error(body)),
        b':' => Ok(Reply::Integer(int(&body)?)),
        b'$' => {
            let n = int(&body)?;
            if n < 0 {
                return Ok(Reply::Bulk(None));
            }
            if n > 64 << 20 {
                return Err(bad(format!("bulk reply of {n} bytes is too large")));
            }
            let mut data = vec![0u8; n as usize + 2];
            r.read_exact(&mut data)?;
            data.truncate(n as usize);
            Ok(Reply::Bulk(Some(data)))
        }
        b'*' => {
            let n = int(&body)?;
            if n < 0 {
                return Ok(Reply::Array(None));
            }
            (0..n).map(|_| read_reply(r)).collect::<io::Result<Vec<_>>>().map(|v| Reply::Array(Some(v)))
        }
        other => Err(bad(format!("not a RESP reply (starts with {:?})", other as char))),
    }
}

/// Parses `INFO` output into (field, value) pairs, skipping section headers.
pub fn parse_info(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands() {
        let mut out = Vec::new();
        write_command(&mut out, &[b"AUTH", b"app", b"s3cret"]).unwrap();
        assert_eq!(out, b"*3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n$6\r\ns3cret\r\n");
    }

    #[test]
    fn decodes_replies() {
        let mut r = &b"+PONG\r\n-WRONGPASS invalid\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n:1\r\n+OK\r\n"[..];
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Simple("PONG".into()));
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Error("WRONGPASS invalid".into()));
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Integer(42));
        assert_eq!(read_reply(&mut r).unwrap().text().unwrap(), "hello");
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Bulk(None));
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Array(Some(vec![Reply::Integer(1), Reply::Simple("OK".into())])));
        assert!(read_reply(&mut &b"HTTP/1.1 400\r\n"[..]).is_err());
    }

    #[test]
    fn info_fields() {
        let info = parse_info("# Server\r\nredis_version:7.0.15\r\n\r\n# Memory\r\nused_memory:1024\r\n");
        assert_eq!(info, vec![("redis_version".into(), "7.0.15".into()), ("used_memory".into(), "1024".into())]);
    }
}
