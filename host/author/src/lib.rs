//! Plugin authoring: `picket plugin new` writes a project for a language ([`scaffold`]),
//! `picket plugin build` runs that language's toolchain on it ([`build`]), and C gets its
//! bindings and component made in-process ([`c`]).
//!
//! A project's language is told by its files (`Cargo.toml`, `package.json`, `app.py`,
//! `*.c`). Its contract is its own `wit/plugin.wit` when it has one, else the one compiled
//! into this picket, so a project built today keeps building against the contract it was
//! written for.

pub mod build;
pub mod c;
pub mod scaffold;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The plugin contract this picket provides, `wit/plugin.wit`.
pub const WIT: &str = include_str!("../../../wit/plugin.wit");

/// The languages picket can scaffold and build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
    C,
}

impl Lang {
    /// The language of the project in `dir`, from the files it has.
    pub fn detect(dir: &Path) -> Option<Lang> {
        let has = |f: &str| dir.join(f).is_file();
        if has("Cargo.toml") {
            return Some(Lang::Rust);
        }
        if has("package.json") {
            return Some(Lang::Js);
        }
        if has("app.py") {
            return Some(Lang::Python);
        }
        let any_c = std::fs::read_dir(dir).ok()?.filter_map(|e| e.ok()).any(|e| e.path().extension().is_some_and(|x| x == "c"));
        any_c.then_some(Lang::C)
    }

    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Python => "Python",
            Lang::Js => "JavaScript",
            Lang::C => "C",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthorError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the plugin contract (wit): {0}")]
    Wit(String),
    #[error("making the component: {0}")]
    Componentize(String),
    #[error("{0}")]
    Project(String),
    #[error("`{tool}` was not found; {hint}")]
    ToolMissing { tool: String, hint: &'static str },
    #[error("`{tool}` failed ({status}); its messages are above")]
    ToolFailed { tool: String, status: std::process::ExitStatus },
}

impl AuthorError {
    pub fn io(path: &Path, source: std::io::Error) -> AuthorError {
        AuthorError::Io { path: path.to_path_buf(), source }
    }
}

/// The contract a project in `dir` builds against: its `wit/plugin.wit`, else picket's.
pub fn contract(dir: &Path) -> Result<String, AuthorError> {
    let own = dir.join("wit").join("plugin.wit");
    if own.is_file() {
        return std::fs::read_to_string(&own).map_err(|e| AuthorError::io(&own, e));
    }
    Ok(WIT.to_string())
}

/// Runs a toolchain command with its messages on our stderr (stdout too: ours is for
/// what picket itself reports), naming how to install the tool when it is missing.
pub(crate) fn run_tool(cmd: &mut Command, tool: &str, hint: &'static str) -> Result<(), AuthorError> {
    tracing::debug!(?cmd, "running");
    let status = cmd.stdout(Stdio::from(std::io::stderr())).stderr(Stdio::inherit()).status().map_err(|e| cannot_start(e, tool, hint))?;
    if status.success() { Ok(()) } else { Err(AuthorError::ToolFailed { tool: tool.to_string(), status }) }
}

/// Why a tool could not be started: missing (with how to install it), or something else.
pub(crate) fn cannot_start(e: std::io::Error, tool: &str, hint: &'static str) -> AuthorError {
    if e.kind() == std::io::ErrorKind::NotFound {
        AuthorError::ToolMissing { tool: tool.to_string(), hint }
    } else {
        AuthorError::Project(format!("cannot run {tool}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_is_told_by_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(Lang::detect(d), None);
        std::fs::write(d.join("relay.c"), "").unwrap();
        assert_eq!(Lang::detect(d), Some(Lang::C));
        std::fs::write(d.join("app.py"), "").unwrap();
        assert_eq!(Lang::detect(d), Some(Lang::Python));
        std::fs::write(d.join("package.json"), "{}").unwrap();
        assert_eq!(Lang::detect(d), Some(Lang::Js));
        std::fs::write(d.join("Cargo.toml"), "").unwrap();
        assert_eq!(Lang::detect(d), Some(Lang::Rust));
    }

    #[test]
    fn a_project_builds_against_its_own_contract_when_it_has_one() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(contract(dir.path()).unwrap(), WIT);
        std::fs::create_dir(dir.path().join("wit")).unwrap();
        std::fs::write(dir.path().join("wit/plugin.wit"), "package picket:plugin@0.1.0;").unwrap();
        assert_eq!(contract(dir.path()).unwrap(), "package picket:plugin@0.1.0;");
    }
}
