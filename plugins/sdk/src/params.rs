//! Decoding the check's params (a JSON object) into a plugin's own struct.
//!
//! The host has already checked the param names against `describe()`, so a failure here
//! is a type mismatch; it becomes an `unknown` report that names the field.

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

/// Parses a duration written as in the TOML files: "250ms", "1.5s", "2m", "1h", "3d".
pub fn parse_duration_ms(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = text.split_at(split);
    let n: f64 = num.parse().ok()?;
    let factor = match unit.trim() {
        "us" | "µs" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    Some(n * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("250ms"), Some(250.0));
        assert_eq!(parse_duration_ms("1.5s"), Some(1500.0));
        assert_eq!(parse_duration_ms("2m"), Some(120_000.0));
        assert_eq!(parse_duration_ms("5"), None);
        assert_eq!(parse_duration_ms("5 parsecs"), None);
    }
}
