//! The `[daemon]` table: where `picket run` listens, where it keeps history and for how
//! long. At most one file may hold it; command-line flags override it.
//!
//! ```toml
//! [daemon]
//! listen = "127.0.0.1:9867"      # the API and /metrics; loopback unless you say otherwise
//! store = "picket.db"            # relative to this file; SQLite, WAL
//! keep_results = "3d"            # raw results; older ones live on as hourly rollups
//! keep_rollups = "400d"
//! concurrency = 32               # checks running at once
//! shutdown_grace = "10s"         # how long running checks may finish on SIGTERM
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::doc::{Doc, as_i64, type_name};
use super::error::suggestion;
use picket_core::units::parse_duration;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9867";
const KEYS: &[&str] = &["listen", "store", "keep_results", "keep_rollups", "concurrency", "shutdown_grace"];

/// The default bound on concurrent checks (`[daemon] concurrency`, `--concurrency`).
pub const DEFAULT_CONCURRENCY: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub struct DaemonSettings {
    pub listen: SocketAddr,
    /// `None`: the default location (see `cli::run`).
    pub store: Option<PathBuf>,
    pub keep_results: Duration,
    pub keep_rollups: Duration,
    pub concurrency: usize,
    pub shutdown_grace: Duration,
    /// Where the `[daemon]` table was written, if anywhere.
    pub declared_at: Option<(PathBuf, usize)>,
}

impl Default for DaemonSettings {
    fn default() -> DaemonSettings {
        DaemonSettings {
            listen: DEFAULT_LISTEN.parse().expect("valid default"),
            store: None,
            keep_results: Duration::from_secs(3 * 86400),
            keep_rollups: Duration::from_secs(400 * 86400),
            concurrency: DEFAULT_CONCURRENCY,
            shutdown_grace: Duration::from_secs(10),
            declared_at: None,
        }
    }
}

pub fn parse(doc: &mut Doc<'_>, line: usize, t: &DeTable<'_>) -> DaemonSettings {
    let mut s = DaemonSettings { declared_at: Some((doc.path.to_path_buf(), line)), ..DaemonSettings::default() };
    for (k, v) in t.iter() {
        let key = k.get_ref().as_ref();
        let field = |doc: &mut Doc<'_>, msg: String| doc.error(v.span(), format!("[daemon], field `{key}`: {msg}"));
        let duration = |doc: &mut Doc<'_>, min: Duration| match v.get_ref().as_str().map(parse_duration) {
            Some(Ok(d)) if d >= min => Some(d),
            Some(Ok(_)) => {
                field(doc, format!("must be at least {}", picket_core::units::format_duration(min)));
                None
            }
            Some(Err(e)) => {
                field(doc, e);
                None
            }
            None => {
                field(doc, format!("expected a duration string, found {}", type_name(v.get_ref())));
                None
            }
        };
        match key {
            "listen" => match v.get_ref().as_str().map(|a| a.parse::<SocketAddr>()) {
                Some(Ok(a)) => s.listen = a,
                _ => field(doc, "expected an address and port such as \"127.0.0.1:9867\"".into()),
            },
            "store" => match v.get_ref() {
                DeValue::String(p) => s.store = Some(doc.relative(p)),
                other => field(doc, format!("expected a file path, found {}", type_name(other))),
            },
            // Raw results feed the hourly rollups, so at least two hours are kept.
            "keep_results" => s.keep_results = duration(doc, Duration::from_secs(2 * 3600)).unwrap_or(s.keep_results),
            "keep_rollups" => s.keep_rollups = duration(doc, Duration::from_secs(86400)).unwrap_or(s.keep_rollups),
            "shutdown_grace" => s.shutdown_grace = duration(doc, Duration::ZERO).unwrap_or(s.shutdown_grace),
            "concurrency" => match as_i64(v.get_ref()) {
                Some(n) if (1..=128).contains(&n) => s.concurrency = n as usize,
                _ => field(doc, "expected a whole number from 1 to 128".into()),
            },
            _ => doc.error(k.span(), format!("[daemon]: unknown field `{key}`{}", suggestion(key, KEYS.iter().copied()))),
        }
    }
    s
}
