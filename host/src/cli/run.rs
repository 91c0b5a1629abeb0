//! `picket run`: the daemon. Flags override the `[daemon]` table.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::{Global, exit};
use crate::daemon::{self, Options};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A check file, or a directory of *.toml check files.
    #[arg(short, long = "config", value_name = "PATH", default_value = "checks")]
    pub config: PathBuf,
    /// Where the API and /metrics listen [default: [daemon] listen, or 127.0.0.1:9867].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The history database [default: [daemon] store, $PICKET_STATE_DIR/picket.db, or
    /// $XDG_STATE_HOME/picket/picket.db].
    #[arg(long, value_name = "PATH", conflicts_with = "no_store")]
    pub store: Option<PathBuf>,
    /// Keep no history: state lives in memory and is lost on restart.
    #[arg(long)]
    pub no_store: bool,
    /// How many checks may run at once [default: [daemon] concurrency, or 32].
    #[arg(long)]
    pub concurrency: Option<usize>,
}

/// `$PICKET_STATE_DIR/picket.db`, `$XDG_STATE_HOME/picket/picket.db` or
/// `~/.local/state/picket/picket.db`.
fn default_store() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("PICKET_STATE_DIR")
        .or_else(|| env("XDG_STATE_HOME").map(|d| d.join("picket")))
        .or_else(|| env("HOME").map(|h| h.join(".local/state/picket")))
        .map(|d| d.join("picket.db"))
}

pub async fn run(args: RunArgs, global: &Global) -> u8 {
    let plugins = match super::plugins_for(global, crate::engine::Workload::Daemon) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let plan = match crate::config::load(&args.config, &plugins).await {
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
    let mut settings = plan.daemon.clone();
    if let Some(l) = args.listen {
        settings.listen = l;
    }
    if let Some(c) = args.concurrency {
        settings.concurrency = c.clamp(1, 128);
    }
    let store = if args.no_store { None } else { args.store.or_else(|| settings.store.clone()).or_else(default_store) };
    if store.is_none() && !args.no_store {
        eprintln!("picket: no place for the history store; pass --store PATH or --no-store");
        return exit::USAGE;
    }
    let opts = Options { path: args.config, settings, store };
    match daemon::run(plan, plugins, opts, std::future::pending()).await {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("picket: {e}");
            exit::INTERNAL
        }
    }
}
