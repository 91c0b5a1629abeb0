//! `picket validate`: load and check the files (plugins included) without running checks.

use std::path::PathBuf;

use clap::Args;

use super::{Global, InfoFormat, exit};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// A check file, or a directory of *.toml check files.
    #[arg(short, long = "config", value_name = "PATH", default_value = "checks")]
    pub config: PathBuf,
    #[arg(long, value_enum, default_value_t = InfoFormat::Human)]
    pub format: InfoFormat,
}

pub async fn run(args: ValidateArgs, global: &Global) -> u8 {
    let plugins = match super::plugins(global) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (errors, plan) = match crate::config::load(&args.config, &plugins).await {
        Ok(plan) => (plan.plugin_problems(), Some(plan)),
        Err(e) => (e.0, None),
    };
    match args.format {
        InfoFormat::Json => {
            let doc = serde_json::json!({
                "valid": errors.is_empty(),
                "checks": plan.as_ref().map(|p| p.checks.iter().map(|c| serde_json::json!({
                    "name": c.name, "plugin": c.plugin_name, "target": c.secrets.scrub(&c.target),
                    "file": c.file, "line": c.line, "grants": c.grants.to_string(), "schedule": c.schedule.describe(),
                })).collect::<Vec<_>>()),
                "errors": errors.iter().map(|e| serde_json::json!({
                    "file": e.file, "line": e.line, "column": e.column, "message": e.message,
                })).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&doc).expect("serialize"));
        }
        InfoFormat::Human => {
            for e in &errors {
                eprintln!("{e}");
            }
            if let (true, Some(plan)) = (errors.is_empty(), &plan) {
                let files: Vec<String> = plan.files.iter().map(|f| f.display().to_string()).collect();
                println!("ok: {} checks in {}", plan.checks.len(), files.join(", "));
                for c in &plan.checks {
                    println!("  {} ({} → {}; grants {}; {})", c.name, c.plugin_name, c.secrets.scrub(&c.target), c.grants, c.schedule.describe());
                }
            } else {
                eprintln!("picket: invalid configuration ({} problem{})", errors.len(), if errors.len() == 1 { "" } else { "s" });
            }
        }
    }
    if errors.is_empty() { exit::OK } else { exit::CONFIG }
}
