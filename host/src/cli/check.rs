//! `picket check`: run the checks once (or until healthy with `--wait`) and report.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Args;

use super::{Global, exit};
use crate::output::{self, Context, Format};
use crate::result::{CheckResult, Status};
use crate::runner::{DEFAULT_CONCURRENCY, Runner};
use crate::units::{format_duration, parse_duration};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A check file, or a directory of *.toml check files.
    #[arg(short, long = "config", value_name = "PATH", default_value = "checks")]
    pub config: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Run only these checks (repeatable).
    #[arg(long, value_name = "NAME", num_args = 1..)]
    pub only: Vec<String>,
    /// Re-run failing checks until all pass or this much time has passed, e.g. 60s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Option<Duration>,
    /// Pause between rounds with --wait.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1s")]
    pub interval: Duration,
    /// The least severe status that fails the run.
    #[arg(long, value_enum, default_value_t = FailOn::Critical)]
    pub fail_on: FailOn,
    /// How many checks may run at once.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Colour: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Warning,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

pub async fn run(args: CheckArgs, global: &Global) -> u8 {
    let started = Instant::now();
    let plugins = match super::plugins(global) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // `picket check` sends no notifications: their secrets need not be set.
    let plan = match crate::config::load_silent(&args.config, &plugins).await {
        Ok(p) => p,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("picket: invalid configuration ({} problem{})", errors.errors.len(), if errors.errors.len() == 1 { "" } else { "s" });
            return exit::CONFIG;
        }
    };
    // What loads but probably does not do what was meant; never a reason to stop.
    for w in &plan.warnings {
        eprintln!("{w}");
    }
    let plan = match plan.only(&args.only) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("picket: {e}");
            return exit::USAGE;
        }
    };

    let stdout_tty = std::io::stdout().is_terminal();
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => stdout_tty && std::env::var_os("NO_COLOR").is_none(),
    };
    let fail_on = match args.fail_on {
        FailOn::Warning => Status::Warning,
        FailOn::Critical => Status::Critical,
    };
    let progress = Progress::new(args.format == Format::Human && std::io::stderr().is_terminal(), plan.checks.len());
    let runner = Runner::new(plugins.clone(), args.concurrency);
    let on_result = |r: &CheckResult| progress.done(r);
    let results = match args.wait {
        None => runner.run_all(&plan.checks, &on_result).await,
        Some(within) => {
            let ctx = Context { color, fail_on, elapsed: Duration::ZERO };
            let on_round = |rs: &[CheckResult], left: Duration| progress.waiting(rs, left, &ctx);
            runner.run_until_healthy(&plan.checks, within, args.interval, |s| !ctx.fails(s), &on_round, &on_result).await
        }
    };
    progress.clear();

    let ctx = Context { color, fail_on, elapsed: started.elapsed() };
    let text = output::render(args.format, &results, &ctx);
    let mut out = std::io::stdout().lock();
    // A closed pipe (`picket check | head`) is not an error worth a panic.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    exit::for_results(&results, args.format, &ctx)
}

/// The live line on a terminal's stderr: how many checks are done, what --wait is doing.
struct Progress {
    enabled: bool,
    total: Mutex<usize>,
    done: AtomicUsize,
}

impl Progress {
    fn new(enabled: bool, total: usize) -> Progress {
        let p = Progress { enabled, total: Mutex::new(total), done: AtomicUsize::new(0) };
        p.draw(&format!("running {total} checks…"));
        p
    }

    fn draw(&self, text: &str) {
        if self.enabled {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{text}");
            let _ = err.flush();
        }
    }

    fn done(&self, r: &CheckResult) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let total = *self.total.lock().unwrap();
        self.draw(&format!("[{n}/{total}] {} {}", r.name, r.status));
    }

    fn waiting(&self, results: &[CheckResult], left: Duration, ctx: &Context) {
        let failing: Vec<&str> = results.iter().filter(|r| ctx.fails(r.status)).map(|r| r.name.as_str()).collect();
        self.done.store(0, Ordering::Relaxed);
        *self.total.lock().unwrap() = failing.len();
        self.draw(&format!("waiting for {} ({} left)", failing.join(", "), format_duration(left)));
        if !self.enabled {
            // In CI logs a line per round shows that --wait is making progress.
            eprintln!("picket: waiting for {} ({} left)", failing.join(", "), format_duration(left));
        }
    }

    fn clear(&self) {
        self.draw("");
    }
}
