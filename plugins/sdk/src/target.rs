//! Parsing a check's `target` URL: `scheme://[user[:password]@]host[:port][/path][?k=v&...]`.
//!
//! Small on purpose (no IDNA, no normalisation): plugins only need the parts. User and
//! password are percent-decoded.

/// The parts of a target URL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    pub scheme: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// Without the leading '/'.
    pub path: String,
    pub query: Vec<(String, String)>,
}

impl Target {
    pub fn parse(text: &str) -> Result<Target, String> {
        let (scheme, rest) = text.split_once("://").ok_or_else(|| format!("{text:?} is not scheme://host[:port]"))?;
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, q),
            None => (rest, ""),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, p),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((a, b)) => (Some(decode(a)), Some(decode(b))),
                None => (Some(decode(u)), None),
            },
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, tail) = v6.split_once(']').ok_or_else(|| format!("{text:?}: unclosed [ in host"))?;
            (h.to_string(), tail.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => Some(p.parse().map_err(|_| format!("{text:?}: port {p:?} is not a number"))?),
            None => None,
        };
        if host.is_empty() {
            return Err(format!("{text:?} has no host"));
        }
        let query = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (decode(k), decode(v)),
                None => (decode(kv), String::new()),
            })
            .collect();
        Ok(Target {
            scheme: scheme.to_ascii_lowercase(),
            user: user.filter(|u| !u.is_empty()),
            password,
            host,
            port,
            path: decode(path),
            query,
        })
    }

    pub fn query(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_url() {
        let t = Target::parse("postgres://app:p%40ss@db.internal:5433/app_db?sslmode=require").unwrap();
        assert_eq!(t.scheme, "postgres");
        assert_eq!(t.user.as_deref(), Some("app"));
        assert_eq!(t.password.as_deref(), Some("p@ss"));
        assert_eq!((t.host.as_str(), t.port), ("db.internal", Some(5433)));
        assert_eq!(t.path, "app_db");
        assert_eq!(t.query("sslmode"), Some("require"));
    }

    #[test]
    fn short_forms() {
        let t = Target::parse("redis://localhost").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.user, t.password), ("localhost", None, None, None));
        let t = Target::parse("redis://:secret@[::1]:6380/2").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.user.as_deref(), t.password.as_deref()), ("::1", Some(6380), None, Some("secret")));
        assert_eq!(t.path, "2");
        assert!(Target::parse("localhost:6379").is_err());
        assert!(Target::parse("redis://:6379").is_err());
    }
}
