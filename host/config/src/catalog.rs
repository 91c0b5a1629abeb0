//! What config needs to know about plugins and notification providers, asked through a
//! trait so that config never compiles a plugin or builds a provider itself: the `picket`
//! binary answers from the sandbox and notify crates, tests answer from a fake.

use std::future::Future;
use std::path::Path;

use picket_core::notify::{Channel, FieldError, Fields};
use picket_core::plugin::PluginInfo;
use picket_core::result::Failure;

/// A plugin as a check file names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginRef<'a> {
    /// `plugin = "http"`.
    Builtin(&'a str),
    /// `plugin = "./checks/queue.wasm"` (resolved against the file), maybe pinned.
    File { path: &'a Path, sha256: Option<&'a str> },
}

/// A loaded plugin as config sees it: which component (its sha256, the key the runner
/// finds the compiled component by) and what it says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    pub sha256: String,
    /// Shared by every check of the plugin: 10,000 checks must not hold 10,000 copies.
    pub info: std::sync::Arc<PluginInfo>,
}

/// The answers config needs while it loads check files.
pub trait Catalog: Sync {
    /// The built-in plugins' names, for messages.
    fn builtins(&self) -> Vec<String>;

    /// Loads and describes a plugin. `None`: there is no built-in of that name. `Some(Err)`:
    /// the plugin exists but cannot be used (sha256 mismatch, no `check` export, …); such a
    /// check still loads and reports that failure as its result.
    fn plugin(&self, plugin: PluginRef<'_>) -> impl Future<Output = Option<Result<Described, Failure>>> + Send;

    /// The notification provider kinds, for messages.
    fn channel_kinds(&self) -> Vec<String>;

    /// Validates a `[notify.NAME]` table (secret references already resolved) into a
    /// channel; an error names the field.
    fn channel(&self, name: &str, kind: &str, fields: Fields) -> Result<Channel, FieldError>;

    /// Whether the plan will send notifications. `picket check` never does, so a channel
    /// whose secret (`{ env = … }`, `{ file = … }`) cannot be read is left out of its plan
    /// instead of failing the load; every other problem is still an error.
    fn notifies(&self) -> bool {
        true
    }
}
