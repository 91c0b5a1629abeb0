//! `picket recover`: a running daemon's recovery budgets, through its API.
//!
//! ```text
//! picket recover reset mech-queue   # forget its attempts: the next incident may restart it again
//! ```

use clap::{Args, Subcommand};

use super::exit;

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
    let http = picket_tls::reqwest_builder().timeout(std::time::Duration::from_secs(10)).build().expect("HTTP client");
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
    let resp = match http.post(url).send().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "picket: cannot reach the daemon at {base}: {} (is `picket run` running? set --api or PICKET_API)",
                crate::notify::describe_reqwest(e)
            );
            return exit::INTERNAL;
        }
    };
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    if !status.is_success() {
        eprintln!("picket: {}", body["error"].as_str().unwrap_or(status.as_str()));
        return exit::USAGE;
    }
    let max = body["recovery_budget"]["max"].as_u64().unwrap_or(0);
    println!("recovery budget of {} reset: {max} attempts available", args.check);
    exit::OK
}
