//! `picket recover`: a running daemon's recovery budgets, through its API.
//!
//! ```text
//! picket recover reset mech-queue   # forget its attempts: the next incident may restart it again
//! ```

use clap::{Args, Subcommand};

use super::{daemon_api, exit};

#[derive(Debug, Subcommand)]
pub enum RecoverCommand {
    /// Forget a check's recovery attempts, so its budget (`max` within `within`) is whole.
    Reset(ResetArgs),
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// The check.
    pub check: String,
    /// The daemon's API.
    #[arg(long, env = "PICKET_API", default_value = "http://127.0.0.1:9867")]
    pub api: String,
}

pub async fn run(cmd: RecoverCommand) -> u8 {
    let RecoverCommand::Reset(args) = cmd;
    let http = daemon_api::client();
    let base = args.api.trim_end_matches('/');
    let mut url = match reqwest::Url::parse(&format!("{base}/api/v1/checks/")) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("picket: --api {base:?} is not a URL: {e}");
            return exit::USAGE;
        }
    };
    // The name as one path segment, whatever characters it has.
    url.path_segments_mut().expect("http URL").pop_if_empty().extend([args.check.as_str(), "recovery", "reset"]);
    let body = match daemon_api::send(http.post(url), base).await {
        Ok(b) => b,
        Err(code) => return code,
    };
    let max = body["recovery_budget"]["max"].as_u64().unwrap_or(0);
    println!("recovery budget of {} reset: {max} attempts available", args.check);
    exit::OK
}
