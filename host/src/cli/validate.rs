//! `picket validate`: load and check the files (plugins included) without running checks.
//! Errors fail it (exit 78); warnings (`file:line:col: warning: …`) are printed with them,
//! in file order, and never change the exit code.

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
    let (errors, warnings, plan) = match crate::config::load(&args.config, &plugins).await {
        Ok(plan) => (plan.plugin_problems(), plan.warnings.clone(), Some(plan)),
        Err(e) => (e.errors, e.warnings, None),
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
                "warnings": warnings.iter().map(|w| serde_json::json!({
                    "file": w.0.file, "line": w.0.line, "column": w.0.column, "message": w.0.message,
                })).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&doc).expect("serialize"));
        }
        InfoFormat::Human => {
            for line in crate::config::in_file_order(&errors, &warnings) {
                eprintln!("{line}");
            }
            if let (true, Some(plan)) = (errors.is_empty(), &plan) {
                let files: Vec<String> = plan.files.iter().map(|f| f.display().to_string()).collect();
                println!("ok: {} checks in {}", plan.checks.len(), files.join(", "));
                for c in &plan.checks {
                    let mut extra = String::new();
                    if let Some(r) = &c.route {
                        extra.push_str(&format!("; route {r}"));
                    }
                    if let Some(r) = &c.recover {
                        extra.push_str(&format!("; recover: {}", r.action.describe()));
                    }
                    println!(
                        "  {} ({} → {}; grants {}; {}{extra})",
                        c.name,
                        c.plugin_name,
                        c.secrets.scrub(&c.target),
                        c.grants,
                        c.schedule.describe()
                    );
                }
                print_notify(&plan.notify);
            } else {
                eprintln!("picket: invalid configuration ({} problem{})", errors.len(), if errors.len() == 1 { "" } else { "s" });
            }
        }
    }
    if errors.is_empty() { exit::OK } else { exit::CONFIG }
}

/// The routes as a person reads them: who hears what, when.
fn print_notify(n: &crate::notify::router::NotifyPlan) {
    use crate::units::format_duration as d;
    if n.routes.is_empty() {
        if !n.channels.is_empty() {
            println!("notifications: {} channels but no [route.*]: nothing will be sent", n.channels.len());
        }
        return;
    }
    println!("routes:");
    for r in n.routes.values() {
        let to: Vec<String> =
            r.notify.iter().map(|c| format!("{c} ({})", n.channels.get(c).map(|ch| ch.kind.as_str()).unwrap_or("?"))).collect();
        let mut line = format!("  {} → {}", r.name, to.join(", "));
        if let Some(m) = &r.remind {
            if m.backoff > 1.0 {
                line.push_str(&format!("; remind after {}, ×{} up to {}", d(m.every), m.backoff, d(m.max)));
            } else {
                line.push_str(&format!("; remind every {}", d(m.every)));
            }
        }
        if let Some(e) = &r.escalate {
            line.push_str(&format!("; escalate after {} to {}", d(e.after), e.to));
        }
        if r.name == "warning" || r.cooldown != crate::notify::router::DEFAULT_COOLDOWN {
            line.push_str(&format!("; warnings at most once per {} per check", d(r.cooldown)));
        }
        if !r.resolved {
            line.push_str("; no resolved notifications");
        }
        println!("{line}");
    }
    for m in &n.maintenance {
        let when = match &m.window {
            crate::notify::quiet::Window::Once { start, end } => format!("{} to {}", start.to_rfc3339(), end.to_rfc3339()),
            crate::notify::quiet::Window::Cron { expr, zone, duration, .. } => format!("cron {expr} ({zone}) for {}", d(*duration)),
        };
        println!("maintenance: {} {when}: {}", m.checks.join(", "), m.reason);
    }
}
