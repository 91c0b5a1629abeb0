//! Exit codes, decided here and nowhere else.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | every check passed (warnings pass unless `--fail-on warning`) |
//! | 1 | a warning, with `--fail-on warning` |
//! | 2 | a critical result |
//! | 3 | an unknown result: the plugin or sandbox could not tell (and nothing was critical) |
//! | 64 | bad command-line usage |
//! | 70 | picket itself failed |
//! | 78 | invalid configuration (sysexits' EX_CONFIG) |
//!
//! With `--format nagios` the code is the Nagios one for the worst status (0–3).

use crate::output::{Context, Format, worst};
use crate::result::{CheckResult, Status};

pub const OK: u8 = 0;
pub const WARNING: u8 = 1;
pub const CRITICAL: u8 = 2;
pub const UNKNOWN: u8 = 3;
pub const USAGE: u8 = 64;
pub const INTERNAL: u8 = 70;
pub const CONFIG: u8 = 78;

pub fn for_results(results: &[CheckResult], format: Format, ctx: &Context) -> u8 {
    if format == Format::Nagios {
        return worst(results).nagios_code();
    }
    let any = |s: Status| results.iter().any(|r| r.status == s);
    if any(Status::Critical) {
        CRITICAL
    } else if any(Status::Unknown) {
        UNKNOWN
    } else if any(Status::Warning) && ctx.fails(Status::Warning) {
        WARNING
    } else {
        OK
    }
}
