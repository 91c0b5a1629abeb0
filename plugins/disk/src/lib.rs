//! The built-in `disk` check: usage of a granted path, as `df` reports it.
//!
//! ```toml
//! [[check]]
//! name = "root-disk"
//! plugin = "disk"
//! target = "/"
//! thresholds = { used = { warn = "80%", crit = "90%" } }
//! ```

use picket_sdk::cap::disk;
use picket_sdk::{Config, Info, Plugin, Report, export_plugin, info};

/// Seven days of history for the `days_until_full` trend.
const FORECAST_WINDOW_S: u32 = 7 * 86_400;

struct Disk;

impl Plugin for Disk {
    fn describe() -> Info {
        info("disk", "Space and inode usage of a filesystem path")
            .path_target()
            .metric("used", "%", "space used, as df's Use% (used / (used + available))")
            .metric("used_bytes", "B", "bytes used")
            .metric_lower_is_worse("free_bytes", "B", "bytes available to unprivileged users")
            .metric("total_bytes", "B", "filesystem size")
            .metric("inodes_used", "%", "inodes used")
            .forecast("days_until_full", "used", 100.0, FORECAST_WINDOW_S, "days until `used` reaches 100%, from its 7-day trend")
            .build()
    }

    fn check(cfg: Config) -> Report {
        let u = match disk::stat(&cfg.target) {
            Ok(u) => u,
            Err(e) => return Report::unknown(format!("{}: {}", cfg.target, e.message)),
        };
        let used = u.total_bytes.saturating_sub(u.free_bytes);
        let denom = used + u.available_bytes;
        let used_pct = if denom == 0 { 0.0 } else { used as f64 * 100.0 / denom as f64 };
        let inodes_pct =
            if u.total_inodes == 0 { 0.0 } else { u.total_inodes.saturating_sub(u.free_inodes) as f64 * 100.0 / u.total_inodes as f64 };
        Report::ok(format!("{}: {used_pct:.1}% used, {} free of {}", cfg.target, bytes(u.available_bytes), bytes(u.total_bytes)))
            .metric("used", used_pct, "%")
            .metric("used_bytes", used as f64, "B")
            .metric("free_bytes", u.available_bytes as f64, "B")
            .metric("total_bytes", u.total_bytes as f64, "B")
            .metric("inodes_used", inodes_pct, "%")
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[i]) }
}

export_plugin!(Disk);
