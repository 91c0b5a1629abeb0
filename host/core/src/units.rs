//! Quantities as written in check files: durations (`250ms`, `1.5s`, `5m`), sizes
//! (`800MB`, `64MiB`), percentages (`80%`) and plain numbers, plus their formatting.
//!
//! Sizes: KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB powers of 1024, as `df -H`
//! and `df -h` differ.

use std::time::Duration;

/// A number with a dimension, in base units (seconds, bytes, percent).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantity {
    pub value: f64,
    pub dim: Dim,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// Seconds.
    Time,
    Bytes,
    Percent,
    /// No unit written: it takes the unit of the metric it is compared with.
    Plain,
}

impl Dim {
    pub fn name(self) -> &'static str {
        match self {
            Dim::Time => "a duration",
            Dim::Bytes => "a size",
            Dim::Percent => "a percentage",
            Dim::Plain => "a plain number",
        }
    }
}

/// Parses a duration: `250ms`, `1.5s`, `2m`, `1h`, `7d`, `500us`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    match parse_quantity(text)? {
        Quantity { value, dim: Dim::Time } if value >= 0.0 => Ok(Duration::from_secs_f64(value)),
        Quantity { dim: Dim::Plain, .. } => Err(format!("{text:?} has no unit; write e.g. \"{text}s\" or \"{text}ms\"")),
        _ => Err(format!("{text:?} is not a duration; use e.g. \"250ms\", \"10s\", \"5m\", \"1h\"")),
    }
}

/// Parses a size in bytes: `64MiB`, `800MB`, `1024` (bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    match parse_quantity(text)? {
        Quantity { value, dim: Dim::Bytes | Dim::Plain } if value >= 0.0 => Ok(value as u64),
        _ => Err(format!("{text:?} is not a size; use e.g. \"64MiB\", \"800MB\"")),
    }
}

/// Parses any quantity; the unit decides the dimension.
pub fn parse_quantity(text: &str) -> Result<Quantity, String> {
    let t = text.trim();
    let split = t
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || ((c == '-' || c == '+') && i == 0) || c == 'e' && i > 0))
        .map(|(i, _)| i)
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| format!("{text:?} is not a number with an optional unit"))?;
    let (scale, dim) = match unit.trim() {
        "" => (1.0, Dim::Plain),
        "%" => (1.0, Dim::Percent),
        "ns" => (1e-9, Dim::Time),
        "us" | "µs" => (1e-6, Dim::Time),
        "ms" => (1e-3, Dim::Time),
        "s" => (1.0, Dim::Time),
        "m" | "min" => (60.0, Dim::Time),
        "h" => (3600.0, Dim::Time),
        "d" => (86400.0, Dim::Time),
        "w" => (7.0 * 86400.0, Dim::Time),
        "B" => (1.0, Dim::Bytes),
        "KB" | "kB" => (1e3, Dim::Bytes),
        "MB" => (1e6, Dim::Bytes),
        "GB" => (1e9, Dim::Bytes),
        "TB" => (1e12, Dim::Bytes),
        "KiB" => (1024.0, Dim::Bytes),
        "MiB" => (1024.0 * 1024.0, Dim::Bytes),
        "GiB" => (1024.0 * 1024.0 * 1024.0, Dim::Bytes),
        "TiB" => (1024.0_f64.powi(4), Dim::Bytes),
        other => {
            return Err(format!("unknown unit {other:?} in {text:?}; use ms/s/m/h/d, B/KB/MB/GB/KiB/MiB/GiB or %"));
        }
    };
    Ok(Quantity { value: value * scale, dim })
}

/// The dimension and scale to base units of a metric unit reported by a plugin.
pub fn metric_unit(unit: &str) -> (Dim, f64) {
    match unit {
        "s" => (Dim::Time, 1.0),
        "ms" => (Dim::Time, 1e-3),
        "us" => (Dim::Time, 1e-6),
        "days" | "d" => (Dim::Time, 86400.0),
        "%" => (Dim::Percent, 1.0),
        "B" => (Dim::Bytes, 1.0),
        "KB" => (Dim::Bytes, 1e3),
        "MB" => (Dim::Bytes, 1e6),
        "GB" => (Dim::Bytes, 1e9),
        "KiB" => (Dim::Bytes, 1024.0),
        "MiB" => (Dim::Bytes, 1024.0 * 1024.0),
        _ => (Dim::Plain, 1.0),
    }
}

/// Formats a value in a metric's unit for humans: `1.42s`, `850ms`, `812.3 MB`, `81.2%`.
pub fn format_metric(value: f64, unit: &str) -> String {
    match metric_unit(unit) {
        (Dim::Time, scale) if unit != "days" && unit != "d" => format_duration(Duration::from_secs_f64((value * scale).max(0.0))),
        (Dim::Bytes, scale) => format_bytes((value * scale).max(0.0) as u64),
        (Dim::Percent, _) => format!("{}%", trim_float((value * 10.0).round() / 10.0)),
        _ if unit.is_empty() => trim_float(value),
        _ => format!("{} {unit}", trim_float(value)),
    }
}

pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1e-3 {
        format!("{}µs", d.as_micros())
    } else if s < 1.0 {
        format!("{}ms", trim_float((s * 1e4).round() / 10.0))
    } else if s < 120.0 {
        format!("{}s", trim_float((s * 100.0).round() / 100.0))
    } else if s < 7200.0 {
        format!("{}m", trim_float((s / 6.0).round() / 10.0))
    } else {
        format!("{}h", trim_float((s / 360.0).round() / 10.0))
    }
}

/// Decimal units, matching how sizes are written in check files.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 { format!("{n} B") } else { format!("{} {}", trim_float((v * 10.0).round() / 10.0), UNITS[i]) }
}

fn trim_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("5").unwrap_err().contains("has no unit"));
        assert!(parse_duration("5 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("80%").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn sizes_distinguish_decimal_and_binary() {
        assert_eq!(parse_size("800MB").unwrap(), 800_000_000);
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("1s").is_err());
    }

    #[test]
    fn formatting_is_compact() {
        assert_eq!(format_duration(Duration::from_millis(1420)), "1.42s");
        assert_eq!(format_duration(Duration::from_micros(850_400)), "850.4ms");
        assert_eq!(format_bytes(812_345_678), "812.3 MB");
        assert_eq!(format_metric(81.25, "%"), "81.3%");
        assert_eq!(format_metric(0.25, "s"), "250ms");
        assert_eq!(format_metric(12.0, "days"), "12 days");
    }
}
