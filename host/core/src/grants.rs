//! What a check may reach and use: HTTP origins, TCP host:port pairs and filesystem paths
//! ([`Grants`]), its resource [`Limits`] and its [`TlsOptions`]. Plain data, decided by
//! `config` and enforced by the sandbox.
//!
//! Grants come from the check's `target`, resolved against the target shapes its plugin
//! declares ([`crate::target::resolve`]: an http(s) URL grants its origin, another URL or
//! `host:port` that TCP address, with the port the plugin declared for the scheme when the
//! URL names none; an absolute path grants disk stat under it) plus its `allow` list
//! (`"tcp:db:5432"`, `"http:https://api.example.com"`, `"disk:/var"`). Host names are
//! compared before DNS, in one normal form ([`normalize_host`]: lowercase,
//! IDNA for unicode names): granting `localhost` does not grant `127.0.0.1`.
//!
//! Architecture Invariant: capability modules ask a `Grants` before any I/O, and a refusal
//! is recorded (the run then reports `capability denied`), never silently swallowed.

use std::fmt;
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use url::{Host, Url};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl Origin {
    pub fn of(url: &Url) -> Option<Origin> {
        Some(Origin { scheme: url.scheme().to_ascii_lowercase(), host: url_host(url)?, port: url.port_or_known_default()? })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

/// One grant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Grant {
    Http(Origin),
    Tcp { host: String, port: u16 },
    Disk(PathBuf),
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::Http(o) => write!(f, "http:{o}"),
            Grant::Tcp { host, port } if host.contains(':') => write!(f, "tcp:[{host}]:{port}"),
            Grant::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
            Grant::Disk(p) => write!(f, "disk:{}", p.display()),
        }
    }
}

impl Grant {
    /// Parses one `allow` entry.
    pub fn parse_allow(entry: &str) -> Result<Grant, String> {
        let help = "use \"tcp:HOST:PORT\", \"http:URL\" or \"disk:/PATH\"";
        let (kind, rest) = entry.split_once(':').ok_or_else(|| format!("{entry:?} is not a grant; {help}"))?;
        match kind {
            "tcp" => {
                host_port(rest).map(|(host, port)| Grant::Tcp { host, port }).ok_or_else(|| format!("{entry:?}: expected tcp:HOST:PORT"))
            }
            "http" | "https" => {
                let url_text = if kind == "https" { entry } else { rest };
                let url = Url::parse(url_text).map_err(|e| format!("{entry:?}: {e}"))?;
                match url.scheme() {
                    "http" | "https" => {}
                    _ => return Err(format!("{entry:?}: expected an http or https URL")),
                }
                Origin::of(&url).map(Grant::Http).ok_or_else(|| format!("{entry:?}: URL has no host"))
            }
            "disk" => {
                let p = Path::new(rest);
                if !p.is_absolute() {
                    return Err(format!("{entry:?}: disk grants need an absolute path"));
                }
                normalize(p).map(Grant::Disk).ok_or_else(|| format!("{entry:?}: path may not contain \"..\""))
            }
            _ => Err(format!("{entry:?}: unknown grant kind {kind:?}; {help}")),
        }
    }
}

/// Lexically normalises an absolute path; `None` when it climbs with `..`.
pub fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::RootDir => out.push("/"),
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Everything one check may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    grants: Vec<Grant>,
}

impl Grants {
    pub fn new(grants: impl IntoIterator<Item = Grant>) -> Grants {
        let mut out = Grants::default();
        for g in grants {
            if !out.grants.contains(&g) {
                out.grants.push(g);
            }
        }
        out
    }

    pub fn iter(&self) -> impl Iterator<Item = &Grant> {
        self.grants.iter()
    }

    pub fn allows_http(&self, url: &Url) -> bool {
        let Some(origin) = Origin::of(url) else { return false };
        self.grants.iter().any(|g| matches!(g, Grant::Http(o) if *o == origin))
    }

    /// `host` in any spelling of the granted name: it is normalised first.
    pub fn allows_tcp(&self, host: &str, port: u16) -> bool {
        let Some(host) = normalize_host(host) else { return false };
        self.grants.iter().any(|g| matches!(g, Grant::Tcp { host: h, port: p } if *h == host && *p == port))
    }

    /// True for the granted path itself and anything below it.
    pub fn allows_disk(&self, path: &Path) -> bool {
        let Some(path) = normalize(path) else { return false };
        self.grants.iter().any(|g| matches!(g, Grant::Disk(root) if path.starts_with(root)))
    }
}

impl fmt::Display for Grants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.grants.is_empty() {
            return f.write_str("none");
        }
        let parts: Vec<String> = self.grants.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(", "))
    }
}

/// The largest `memory` a check may ask for; the engine's pooling allocator is sized to it.
pub const MAX_MEMORY_CAP: u64 = 1 << 30;

/// Per-check resource limits (`timeout`, `memory`, `output` in TOML).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget for instantiation plus the `check` call.
    pub timeout: Duration,
    /// Largest linear memory the plugin may grow to, in bytes.
    pub memory: u64,
    /// Largest summary plus diagnostics the plugin may return, in bytes.
    pub output: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { timeout: Duration::from_secs(10), memory: 64 << 20, output: 64 << 10 }
    }
}

/// Per-check TLS settings for the host's HTTP client (`tls = { ca_file, insecure }`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsOptions {
    /// Extra PEM roots to trust, e.g. a private CA.
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification. Only for explicit opt-in.
    pub insecure: bool,
}

/// A host name or address in the one form grants and connections use: IP addresses in
/// their canonical text (IPv6 without brackets), names lowercased and in IDNA ASCII form
/// (`Bücher.example` → `xn--bcher-kva.example`). `None` when it is neither.
pub fn normalize_host(host: &str) -> Option<String> {
    let h = host.trim();
    let h = h.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(h);
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    if h.is_empty() || h.contains(':') {
        return None;
    }
    let decoded = percent_decode(h);
    idna::domain_to_ascii(&decoded).ok().filter(|a| !a.is_empty())
}

pub(crate) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// `host:port` or `[v6]:port`, the host normalised.
pub fn host_port(text: &str) -> Option<(String, u16)> {
    let text = text.trim();
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        (host, port)
    } else {
        let (host, port) = text.rsplit_once(':')?;
        if host.contains(':') || host.contains('/') {
            return None;
        }
        (host, port)
    };
    if host.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((normalize_host(host)?, port.parse().ok()?))
}

/// The host of a URL, normalised; `None` when it has none.
pub fn url_host(url: &Url) -> Option<String> {
    match url.host()? {
        Host::Domain(d) => normalize_host(d),
        Host::Ipv4(a) => Some(a.to_string()),
        Host::Ipv6(a) => Some(a.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn from_target(target: &str) -> Option<Grant> {
        Grant::from_target(target, &[]).unwrap()
    }

    #[test]
    fn targets_grant_what_they_name() {
        let g = Grants::new(from_target("http://localhost:3003/health"));
        assert!(g.allows_http(&url("http://LOCALHOST:3003/other")));
        assert!(!g.allows_http(&url("http://localhost:3004/health")));
        assert!(!g.allows_http(&url("https://localhost:3003/health")));
        assert!(!g.allows_http(&url("http://127.0.0.1:3003/health")));
        assert!(!g.allows_tcp("localhost", 3003), "an HTTP grant is not a TCP grant");

        let g = Grants::new(from_target("redis://localhost:6379"));
        assert!(g.allows_tcp("localhost", 6379) && g.allows_tcp("LocalHost", 6379) && g.allows_tcp("ｌｏｃａｌｈｏｓｔ", 6379));
        let g = Grants::new(from_target("postgres://app@db.internal:5432/app"));
        assert!(g.allows_tcp("db.internal", 5432));
        let g = Grants::new(from_target("redis://Bücher.example:6379"));
        assert!(g.allows_tcp("xn--bcher-kva.example", 6379) && g.allows_tcp("bücher.example", 6379));
        let g = Grants::new(from_target("127.0.0.1:22"));
        assert!(g.allows_tcp("127.0.0.1", 22) && !g.allows_tcp("127.0.0.1", 23));
        let g = Grants::new(from_target("[::1]:8080"));
        assert!(g.allows_tcp("::1", 8080) && g.allows_tcp("[::1]", 8080));
        assert_eq!(from_target("just-a-name"), None);
    }

    #[test]
    fn disk_grants_cover_subpaths_only() {
        let g = Grants::new(from_target("/var/lib"));
        assert!(g.allows_disk(Path::new("/var/lib")));
        assert!(g.allows_disk(Path::new("/var/lib/postgresql")));
        assert!(!g.allows_disk(Path::new("/var/library")));
        assert!(!g.allows_disk(Path::new("/var/lib/../../etc")));
        assert!(!g.allows_disk(Path::new("/etc")));
    }

    #[test]
    fn allow_entries() {
        assert_eq!(Grant::parse_allow("tcp:db:5432").unwrap(), Grant::Tcp { host: "db".into(), port: 5432 });
        assert!(matches!(Grant::parse_allow("http:https://api.example.com").unwrap(), Grant::Http(o) if o.port == 443));
        assert!(matches!(Grant::parse_allow("https://api.example.com/x").unwrap(), Grant::Http(_)));
        assert!(Grant::parse_allow("disk:relative").unwrap_err().contains("absolute"));
        assert!(Grant::parse_allow("udp:x:1").unwrap_err().contains("unknown grant kind"));
        assert!(Grant::parse_allow("db:5432").is_err());
    }
}
