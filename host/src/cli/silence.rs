//! `picket silence`: hold a check's notifications for a while, through a running daemon's
//! API (so every picket user sees the same silences, and they survive restarts).
//!
//! ```text
//! picket silence mech-queue --for 1h --reason "deploying 4.2"
//! picket silence 'app-*' --for 30m --reason "db failover drill"
//! picket silence --list
//! picket silence --end 3
//! ```

use clap::Args;

use super::{daemon_api, exit};

#[derive(Debug, Args)]
pub struct SilenceArgs {
    /// The check to silence: a name, or a pattern with `*`.
    #[arg(required_unless_present_any = ["list", "end"])]
    pub check: Option<String>,
    /// How long, e.g. 30m, 2h, 1d.
    #[arg(long = "for", value_name = "DURATION", required_unless_present_any = ["list", "end"])]
    pub duration: Option<String>,
    /// Why: shown with every notification the silence holds back.
    #[arg(long, required_unless_present_any = ["list", "end"])]
    pub reason: Option<String>,
    /// Who [default: $USER].
    #[arg(long)]
    pub by: Option<String>,
    /// List the silences in force.
    #[arg(long, conflicts_with_all = ["check", "end"])]
    pub list: bool,
    /// End the silence with this id now.
    #[arg(long, value_name = "ID", conflicts_with = "check")]
    pub end: Option<i64>,
    /// The daemon's API.
    #[arg(long, env = "PICKET_API", default_value = "http://127.0.0.1:9867")]
    pub api: String,
}

pub async fn run(args: SilenceArgs) -> u8 {
    let http = daemon_api::client();
    let base = args.api.trim_end_matches('/').to_string();
    let req = if args.list {
        http.get(format!("{base}/api/v1/silences"))
    } else if let Some(id) = args.end {
        http.delete(format!("{base}/api/v1/silences/{id}"))
    } else {
        let by = args.by.clone().or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "cli".into());
        // clap requires these three unless --list or --end.
        let silence = crate::api::NewSilence {
            check: args.check.clone().unwrap_or_default(),
            duration: args.duration.clone().unwrap_or_default(),
            reason: args.reason.clone().unwrap_or_default(),
            by: Some(by),
        };
        http.post(format!("{base}/api/v1/silences")).json(&silence)
    };
    let body = match daemon_api::send(req, &base).await {
        Ok(b) => b,
        Err(code) => return code,
    };
    if args.list {
        let rows = body["silences"].as_array().cloned().unwrap_or_default();
        if rows.is_empty() {
            println!("no silences in force");
        }
        for s in rows {
            println!(
                "{:>4}  {:<24} until {}  by {}: {}",
                s["id"],
                s["check"].as_str().unwrap_or(""),
                s["until"].as_str().unwrap_or(""),
                s["by"].as_str().unwrap_or(""),
                s["reason"].as_str().unwrap_or("")
            );
        }
    } else if let Some(id) = args.end {
        println!("silence {id} ended");
    } else {
        println!("silence {} on {} until {}", body["id"], body["check"].as_str().unwrap_or(""), body["until"].as_str().unwrap_or(""));
    }
    exit::OK
}
