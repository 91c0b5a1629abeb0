//! The check's target as the host parsed it: [`Config::endpoint`].
//!
//! The host parses a URL or `host:port` target once, against the target shapes the plugin
//! declared (see [`crate::InfoBuilder::url_target`]), and hands the parts over in
//! `config.endpoint`: the host name exactly as it was granted (lowercase, unicode names in
//! punycode), the port as written or the scheme's declared default, user, password, path
//! and query percent-decoded. So a plugin connects to what was granted and never parses
//! a URL itself.

use crate::{Config, Endpoint, Report};

impl Config {
    /// The parsed target, or the `unknown` report to hand back when the target is not a
    /// URL or `host:port` (a path, or a form the plugin did not declare).
    pub fn endpoint(&self) -> Result<&Endpoint, Report> {
        self.endpoint.as_ref().ok_or_else(|| Report::unknown(format!("target {:?} is not a URL or host:port", self.target)))
    }
}

impl Endpoint {
    /// The first value of `key` in the query.
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The port, or the `unknown` report to hand back (only possible for a target of a
    /// shape without a default port).
    pub fn port_or_report(&self) -> Result<u16, Report> {
        self.port.ok_or_else(|| Report::unknown(format!("target host {} has no port", self.host)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(endpoint: Option<Endpoint>) -> Config {
        Config { name: "db".into(), target: "postgres://app@db/app".into(), endpoint, params: String::new(), timeout_ms: 1000 }
    }

    #[test]
    fn the_host_parse_is_what_plugins_read() {
        let e = Endpoint {
            scheme: "postgres".into(),
            user: Some("app".into()),
            password: None,
            host: "xn--bcher-kva.example".into(),
            port: Some(5432),
            path: "app".into(),
            query: vec![("sslmode".into(), "require".into())],
        };
        let c = config(Some(e));
        let e = c.endpoint().unwrap();
        assert_eq!((e.query("sslmode"), e.query("x"), e.port_or_report().unwrap()), (Some("require"), None, 5432));
        let none = config(None);
        assert_eq!(none.endpoint().unwrap_err().summary, "target \"postgres://app@db/app\" is not a URL or host:port");
    }
}
