//! Configuration errors: each names the file, line, column and field, and suggests the
//! closest valid key where one is near. Warnings have the same form but never stop a file
//! from loading (a threshold on a metric the plugin does not list); they are a type of
//! their own so that no caller can count one as an error.

use std::fmt;
use std::path::PathBuf;

pub use picket_core::text::suggestion;

/// One problem in a check file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is not at one place (an empty directory).
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.column, self.message)
        }
    }
}

/// Something in a check file that loads but probably does not do what was meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning(pub ConfigError);

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.0;
        write!(f, "{}:{}:{}: warning: {}", e.file.display(), e.line, e.column, e.message)
    }
}

/// Every problem found; loading goes on after the first so one run shows them all. The
/// warnings found on the way come along, so they are not lost with the plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigWarning>,
}

impl ConfigErrors {
    pub fn new(errors: Vec<ConfigError>) -> ConfigErrors {
        ConfigErrors { errors, warnings: Vec::new() }
    }
}

/// Warnings and errors as one list in file order (files, then line and column), one a line.
pub fn in_file_order(errors: &[ConfigError], warnings: &[ConfigWarning]) -> Vec<String> {
    let mut all: Vec<(&ConfigError, String)> =
        errors.iter().map(|e| (e, e.to_string())).chain(warnings.iter().map(|w| (&w.0, w.to_string()))).collect();
    all.sort_by(|(a, _), (b, _)| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    all.into_iter().map(|(_, line)| line).collect()
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&in_file_order(&self.errors, &self.warnings).join("\n"))
    }
}
