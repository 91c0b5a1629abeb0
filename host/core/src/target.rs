//! A check's `target`, checked against the shapes its plugin declared and parsed once:
//! the same parse decides what the check may reach ([`Grant`]) and is handed to the plugin
//! ([`Endpoint`], the contract's `endpoint`), so a plugin connects to exactly the host and
//! port it was granted. Host names are normalised one way everywhere ([`normalize_host`](crate::grants::normalize_host)):
//! lowercase, unicode names in their IDNA (punycode) form, IP addresses canonical.

use std::fmt;

use std::path::Path;

use serde::Serialize;
use url::Url;

use crate::grants::{Grant, Origin, host_port, normalize, percent_decode, url_host};
use crate::plugin::{TargetShape, UrlShape};

/// A URL or `host:port` target, parsed (`endpoint` in `wit/plugin.wit`).
#[derive(Clone, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Endpoint {
    /// Lowercase; empty for `host:port`.
    pub scheme: String,
    pub user: Option<String>,
    #[serde(skip)]
    pub password: Option<String>,
    /// Normalised ([`normalize_host`](crate::grants::normalize_host)), as granted.
    pub host: String,
    /// As written, else the scheme's declared default.
    pub port: Option<u16>,
    /// Percent-decoded, without the leading '/'.
    pub path: String,
    pub query: Vec<(String, String)>,
}

// By hand: the password must never reach a log.
impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("scheme", &self.scheme)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("path", &self.path)
            .field("query", &self.query)
            .finish()
    }
}

/// What a target resolves to: its parse (for URLs and `host:port`) and its grant.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub endpoint: Option<Endpoint>,
    pub grant: Option<Grant>,
}

/// Parses a URL target; `default_port` applies when it names no port.
pub fn parse_url(text: &str, default_port: Option<u16>) -> Result<Endpoint, String> {
    let url = Url::parse(text.trim()).map_err(|_| format!("{text:?} is not a valid URL"))?;
    let host = url_host(&url).ok_or_else(|| format!("{text:?} names no host"))?;
    let decoded = |s: &str| Some(percent_decode(s)).filter(|s| !s.is_empty());
    let query = url
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(kv), String::new()),
        })
        .collect();
    Ok(Endpoint {
        scheme: url.scheme().to_string(),
        user: decoded(url.username()),
        password: url.password().map(percent_decode),
        host,
        port: url.port().or(default_port).or_else(|| url.port_or_known_default()),
        path: percent_decode(url.path().strip_prefix('/').unwrap_or(url.path())),
        query,
    })
}

/// What an endpoint of a URL grants: an http(s) origin, else TCP to its host and port.
fn url_grant(e: &Endpoint) -> Option<Grant> {
    let port = e.port?;
    if e.scheme == "http" || e.scheme == "https" {
        return Some(Grant::Http(Origin { scheme: e.scheme.clone(), host: e.host.clone(), port }));
    }
    Some(Grant::Tcp { host: e.host.clone(), port })
}

/// The scheme of `scheme://…`, lowercased, if the text starts with one.
fn scheme_of(target: &str) -> Option<String> {
    let (scheme, _) = target.split_once("://")?;
    let ok =
        scheme.starts_with(|c: char| c.is_ascii_alphabetic()) && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    ok.then(|| scheme.to_ascii_lowercase())
}

fn article(phrase: &str) -> &'static str {
    if phrase.starts_with(['a', 'e', 'i', 'o', 'u']) || phrase.starts_with("ht") { "an" } else { "a" }
}

/// How a shape is named in "is not …; write e.g. …".
fn expected(shape: &TargetShape) -> (String, Option<String>) {
    match shape {
        TargetShape::Url(u) => {
            let names: Vec<String> = u.schemes.iter().map(|s| format!("{}://", s.name)).collect();
            let list = match names.as_slice() {
                [] => "URL".to_string(),
                [one] => format!("{one} URL"),
                [init @ .., last] => format!("{} or {last} URL", init.join(", ")),
            };
            (format!("{} {list}", article(&list)), Some(u.example.clone()).filter(|e| !e.is_empty()))
        }
        TargetShape::HostPort => ("host:port".into(), Some("localhost:6379".into())),
        TargetShape::Path => ("an absolute path such as \"/\" or \"/var\"".into(), None),
    }
}

fn resolve_url(target: &str, scheme: &str, shape: &UrlShape) -> Result<Resolved, String> {
    let example = || if shape.example.is_empty() { String::new() } else { format!("; write e.g. {:?}", shape.example) };
    let default_port = shape.schemes.iter().find(|s| s.name == scheme).and_then(|s| s.default_port);
    let endpoint = parse_url(target, default_port)?;
    if shape.user_required && endpoint.user.is_none() {
        return Err(format!("{target:?} names no user{}", example()));
    }
    if endpoint.port.is_none() {
        return Err(format!("{target:?} names no port{}", example()));
    }
    Ok(Resolved { grant: url_grant(&endpoint), endpoint: Some(endpoint) })
}

/// Checks `target` against the plugin's declared shapes and resolves it. An empty list
/// accepts any target, granting what its form names (see [`infer`]). The error is the
/// message for `picket validate`, e.g. `"localhost" is not host:port; write e.g. …`.
pub fn resolve(target: &str, shapes: &[TargetShape]) -> Result<Resolved, String> {
    if shapes.is_empty() {
        return Ok(infer(target));
    }
    let t = target.trim();
    let scheme = scheme_of(t);
    for shape in shapes {
        match (shape, &scheme) {
            (TargetShape::Url(u), Some(s)) if u.schemes.iter().any(|x| &x.name == s) => return resolve_url(t, s, u),
            (TargetShape::Path, None) if t.starts_with('/') => {
                let grant = normalize(Path::new(t)).map(Grant::Disk).ok_or_else(|| format!("{target:?} may not contain \"..\""))?;
                return Ok(Resolved { endpoint: None, grant: Some(grant) });
            }
            (TargetShape::HostPort, None) if !t.starts_with('/') => {
                if let Some((host, port)) = host_port(t) {
                    let endpoint = Endpoint { host: host.clone(), port: Some(port), ..Endpoint::default() };
                    return Ok(Resolved { endpoint: Some(endpoint), grant: Some(Grant::Tcp { host, port }) });
                }
            }
            _ => {}
        }
    }
    let described: Vec<(String, Option<String>)> = shapes.iter().map(expected).collect();
    let names: Vec<&str> = described.iter().map(|(n, _)| n.as_str()).collect();
    let example = described.iter().find_map(|(_, e)| e.as_ref()).map(|e| format!("; write e.g. {e:?}")).unwrap_or_default();
    Err(format!("{target:?} is not {}{example}", names.join(" or ")))
}

/// What a target grants when its plugin declares no shapes: an absolute path disk stat,
/// an http(s) URL its origin, another URL with a port or `host:port` that TCP address.
pub fn infer(target: &str) -> Resolved {
    let t = target.trim();
    if t.starts_with('/') {
        return Resolved { endpoint: None, grant: normalize(Path::new(t)).map(Grant::Disk) };
    }
    if scheme_of(t).is_some() {
        let endpoint = parse_url(t, None).ok();
        let grant = endpoint.as_ref().and_then(url_grant);
        return Resolved { endpoint, grant };
    }
    match host_port(t) {
        Some((host, port)) => Resolved {
            endpoint: Some(Endpoint { host: host.clone(), port: Some(port), ..Endpoint::default() }),
            grant: Some(Grant::Tcp { host, port }),
        },
        None => Resolved { endpoint: None, grant: None },
    }
}

impl Grant {
    /// What a check's `target` grants, checked against the shapes its plugin declares
    /// (see [`resolve`]); `Err` says why the target does not fit them.
    pub fn from_target(target: &str, shapes: &[TargetShape]) -> Result<Option<Grant>, String> {
        resolve(target, shapes).map(|r| r.grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grants::normalize_host;
    use crate::plugin::UrlScheme;

    fn url_shape(schemes: &[(&str, Option<u16>)], user_required: bool, example: &str) -> TargetShape {
        TargetShape::Url(UrlShape {
            schemes: schemes.iter().map(|(n, p)| UrlScheme { name: n.to_string(), default_port: *p }).collect(),
            user_required,
            example: example.into(),
        })
    }

    fn redis() -> Vec<TargetShape> {
        vec![url_shape(&[("redis", Some(6379)), ("rediss", Some(6379))], false, "redis://localhost:6379")]
    }

    #[test]
    fn a_declared_default_port_is_granted_and_handed_over() {
        let r = resolve("redis://:pw@cache.internal/2?x=1", &redis()).unwrap();
        assert_eq!(r.grant, Some(Grant::Tcp { host: "cache.internal".into(), port: 6379 }));
        let e = r.endpoint.unwrap();
        assert_eq!(
            (e.port, e.password.as_deref(), e.path.as_str(), e.query),
            (Some(6379), Some("pw"), "2", vec![("x".into(), "1".into())])
        );
        let pg = vec![url_shape(&[("postgres", Some(5432)), ("postgresql", Some(5432))], true, "postgres://app@localhost:5432/app")];
        let r = resolve("postgres://app:p%40ss@db.internal/app_db?sslmode=require", &pg).unwrap();
        assert_eq!(r.grant, Some(Grant::Tcp { host: "db.internal".into(), port: 5432 }));
        assert_eq!(r.endpoint.unwrap().password.as_deref(), Some("p@ss"));
        // Without a declaration, no port is guessed.
        assert_eq!(infer("redis://cache.internal").grant, None);
    }

    #[test]
    fn targets_that_do_not_fit_say_what_was_expected() {
        assert_eq!(
            resolve("localhost:6379", &redis()).unwrap_err(),
            "\"localhost:6379\" is not a redis:// or rediss:// URL; write e.g. \"redis://localhost:6379\""
        );
        let http = vec![url_shape(&[("http", Some(80)), ("https", Some(443))], false, "http://localhost:8080/health")];
        assert_eq!(
            resolve("localhost:3003", &http).unwrap_err(),
            "\"localhost:3003\" is not an http:// or https:// URL; write e.g. \"http://localhost:8080/health\""
        );
        assert_eq!(resolve("http://", &http).unwrap_err(), "\"http://\" is not a valid URL");
        let pg = vec![url_shape(&[("postgres", Some(5432))], true, "postgres://app@localhost:5432/app")];
        assert_eq!(
            resolve("postgres://localhost:5432/app", &pg).unwrap_err(),
            "\"postgres://localhost:5432/app\" names no user; write e.g. \"postgres://app@localhost:5432/app\""
        );
        assert_eq!(
            resolve("localhost", &[TargetShape::HostPort]).unwrap_err(),
            "\"localhost\" is not host:port; write e.g. \"localhost:6379\""
        );
        assert_eq!(resolve("var/lib", &[TargetShape::Path]).unwrap_err(), "\"var/lib\" is not an absolute path such as \"/\" or \"/var\"");
        assert_eq!(resolve("/var/../etc", &[TargetShape::Path]).unwrap_err(), "\"/var/../etc\" may not contain \"..\"");
        let smtp = vec![TargetShape::HostPort, url_shape(&[("smtp", None)], false, "smtp://mail.example.com:25")];
        assert_eq!(resolve("mail", &smtp).unwrap_err(), "\"mail\" is not host:port or a smtp:// URL; write e.g. \"localhost:6379\"");
        assert_eq!(resolve("smtp://mail", &smtp).unwrap_err(), "\"smtp://mail\" names no port; write e.g. \"smtp://mail.example.com:25\"");
    }

    #[test]
    fn unicode_hosts_are_granted_and_handed_over_in_punycode() {
        for target in ["redis://Bücher.example:6380", "redis://b%C3%BCcher.example:6380"] {
            let r = resolve(target, &redis()).unwrap();
            assert_eq!(r.grant, Some(Grant::Tcp { host: "xn--bcher-kva.example".into(), port: 6380 }), "{target}");
            assert_eq!(r.endpoint.unwrap().host, "xn--bcher-kva.example");
        }
        let http = vec![url_shape(&[("http", Some(80)), ("https", Some(443))], false, "")];
        let r = resolve("https://Bücher.example/x", &http).unwrap();
        assert_eq!(r.grant.unwrap().to_string(), "http:https://xn--bcher-kva.example:443");
        let r = resolve("Bücher.example:25", &[TargetShape::HostPort]).unwrap();
        assert_eq!(r.endpoint.unwrap().host, "xn--bcher-kva.example");
        // Fullwidth letters map to ASCII: the same name as `localhost`.
        assert_eq!(normalize_host("ｌｏｃａｌｈｏｓｔ").as_deref(), Some("localhost"));
        assert_eq!(normalize_host("[::0001]").as_deref(), Some("::1"));
        assert_eq!(normalize_host("DB.Internal").as_deref(), Some("db.internal"));
    }

    #[test]
    fn without_shapes_the_form_decides() {
        assert!(matches!(infer("http://localhost:3003/health").grant, Some(Grant::Http(o)) if o.port == 3003));
        assert!(matches!(infer("https://example.com").grant, Some(Grant::Http(o)) if o.port == 443));
        assert_eq!(infer("mysql://db:3306").grant, Some(Grant::Tcp { host: "db".into(), port: 3306 }));
        assert_eq!(infer("[::1]:8080").grant, Some(Grant::Tcp { host: "::1".into(), port: 8080 }));
        assert_eq!(infer("/var/lib").grant, Some(Grant::Disk("/var/lib".into())));
        assert_eq!(infer("just-a-name").grant, None);
    }
}
