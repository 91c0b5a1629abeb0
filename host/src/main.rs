//! The `picket` binary: parse arguments, install logging, run.

use clap::Parser;
use picket::cli::{Cli, exit};

/// Exit code for output cut off by a closed pipe: what a shell reports for SIGPIPE.
const CLOSED_PIPE: i32 = 141;

fn main() -> std::process::ExitCode {
    // `picket validate … | head`: the reader has all it wanted. Rust ignores SIGPIPE (so a
    // daemon survives a peer going away) and `println!` then panics; exit quietly instead.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info.payload().downcast_ref::<String>().map(String::as_str).or_else(|| info.payload().downcast_ref::<&str>().copied());
        if msg.is_some_and(|m| m.starts_with("failed printing to std") && m.contains("Broken pipe")) {
            std::process::exit(CLOSED_PIPE);
        }
        default_hook(info);
    }));
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap exits 2 on usage errors, which would read as "critical" here.
            let code = if e.use_stderr() { exit::USAGE } else { exit::OK };
            let _ = e.print();
            return std::process::ExitCode::from(code);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cli.command.default_log_filter()));
    // Colour codes only for a person at a terminal, not for a log file or journald.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
    std::process::ExitCode::from(picket::cli::run(cli))
}
