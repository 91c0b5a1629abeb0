//! The `picket` command line. `main.rs` parses [`Cli`], installs logging, and calls
//! [`run`]; every exit code is decided in [`exit`].

mod check;
mod daemon_api;
pub mod exit;
mod plugin;
mod recover;
mod run;
mod silence;
mod validate;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::engine::{Engine, Workload};
use crate::output::Format;
use crate::plugin::Plugins;
use crate::sandbox::Sandbox;

#[derive(Debug, Parser)]
#[command(name = "picket", version, about = "Health checks in TOML, each run inside a WebAssembly sandbox")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Where compiled plugins are cached [default: $PICKET_CACHE_DIR, $XDG_CACHE_HOME/picket or ~/.cache/picket]
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile plugins in memory only; write nothing to the cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the checks once and report (the CI smoke-test step).
    Check(check::CheckArgs),
    /// Run the checks on their schedules: the daemon, with history, API and /metrics.
    Run(run::RunArgs),
    /// Hold a check's notifications for a while (through the daemon's API).
    Silence(silence::SilenceArgs),
    /// Reset a check's recovery budget (through the daemon's API).
    #[command(subcommand)]
    Recover(recover::RecoverCommand),
    /// Validate check files without running them.
    Validate(validate::ValidateArgs),
    /// Write, build, inspect, list and precompile plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
}

impl Command {
    /// The log level when RUST_LOG is unset: one-shot commands stay quiet, since their
    /// results already say what went wrong.
    pub fn default_log_filter(&self) -> &'static str {
        match self {
            // A daemon's log is its record of what happened.
            Command::Run(_) => "info",
            _ => "error",
        }
    }
}

/// Runs a parsed command and returns the process exit code.
pub fn run(cli: Cli) -> u8 {
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("picket: cannot start the async runtime: {e}");
            return exit::INTERNAL;
        }
    };
    rt.block_on(async move {
        match cli.command {
            Command::Check(args) => check::run(args, &cli.global).await,
            Command::Run(args) => run::run(args, &cli.global).await,
            Command::Validate(args) => validate::run(args, &cli.global).await,
            Command::Silence(args) => silence::run(args).await,
            Command::Recover(cmd) => recover::run(cmd).await,
            Command::Plugin(cmd) => plugin::run(cmd, &cli.global).await,
        }
    })
}

/// The engine, sandbox and plugin loader every command shares.
fn plugins(global: &Global) -> Result<Plugins, u8> {
    plugins_for(global, Workload::OneShot)
}

fn plugins_for(global: &Global, workload: Workload) -> Result<Plugins, u8> {
    let cache = if global.no_cache { None } else { global.cache_dir.clone().or_else(Engine::default_cache_dir) };
    let engine = Engine::for_workload(cache, workload).map_err(|e| {
        eprintln!("picket: {e}");
        exit::INTERNAL
    })?;
    let sandbox = Sandbox::new(engine).map_err(|e| {
        eprintln!("picket: {e}");
        exit::INTERNAL
    })?;
    Ok(Plugins::new(Arc::new(sandbox)))
}

/// Formats for commands that print a description rather than results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InfoFormat {
    Human,
    Json,
}

impl From<InfoFormat> for Format {
    fn from(f: InfoFormat) -> Format {
        match f {
            InfoFormat::Human => Format::Human,
            InfoFormat::Json => Format::Json,
        }
    }
}
