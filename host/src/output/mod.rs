//! Rendering results: one module per `--format`.
//!
//! Every format shows every check (none are dropped for brevity), the reason for sandbox
//! failures, and never anything from the check's secrets, which never reach a result.

mod human;
mod json;
mod junit;
mod nagios;
mod tap;

use std::time::Duration;

use crate::result::{CheckResult, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Junit,
    Tap,
    Nagios,
}

/// What every renderer needs besides the results.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// ANSI colours (human format only).
    pub color: bool,
    /// The least severe status that counts as a failure (critical, or warning with
    /// `--fail-on warning`).
    pub fail_on: Status,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

impl Context {
    pub fn fails(&self, s: Status) -> bool {
        match s {
            Status::Ok => false,
            Status::Warning => self.fail_on == Status::Warning,
            Status::Critical | Status::Unknown => true,
        }
    }
}

pub fn render(format: Format, results: &[CheckResult], ctx: &Context) -> String {
    match format {
        Format::Human => human::render(results, ctx),
        Format::Json => json::render(results, ctx),
        Format::Junit => junit::render(results, ctx),
        Format::Tap => tap::render(results, ctx),
        Format::Nagios => nagios::render(results),
    }
}

/// Counts per status, in the order ok, warning, critical, unknown.
pub fn counts(results: &[CheckResult]) -> [usize; 4] {
    let mut c = [0; 4];
    for r in results {
        c[match r.status {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }] += 1;
    }
    c
}

pub fn worst(results: &[CheckResult]) -> Status {
    results.iter().fold(Status::Ok, |w, r| w.worst(r.status))
}
