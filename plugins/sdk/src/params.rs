//! Decoding the check's params (a JSON object) into a plugin's own struct.
//!
//! The host has already checked every param against its declared kind, so a failure here
//! is a plugin bug; it becomes an `unknown` report that names the field. Params of kind
//! `duration` arrive as whole milliseconds and `size` as bytes (JSON integers: decode them
//! as `u64`), `secret` as the resolved string: the host's grammar is the only one.

use serde::de::DeserializeOwned;

use crate::{Config, Report};

impl Config {
    /// Deserializes the params, or returns the `unknown` report to hand back.
    pub fn params<T: DeserializeOwned>(&self) -> Result<T, Report> {
        let text = if self.params.trim().is_empty() { "{}" } else { &self.params };
        serde_json::from_str(text).map_err(|e| Report::unknown(format!("invalid params for check {}: {e}", self.name)))
    }

    /// The run's budget, less a margin so the plugin can still report before the host's
    /// own timeout fires.
    pub fn io_timeout_ms(&self) -> u32 {
        let t = self.timeout_ms.max(1);
        t.saturating_sub((t / 10).min(250)).max(1)
    }
}
