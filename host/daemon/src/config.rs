//! Check files → a validated [`Plan`]: the `picket-config` crate, asked about plugins and
//! notification providers through [`Catalog`], which this module answers from the sandbox
//! ([`Plugins`]) and the notify module.

use std::path::Path;

pub use picket_config::*;

use crate::notify::{Channel, FieldError, Fields};
use crate::plugin::Plugins;
use crate::result::Failure;

/// The catalog of this binary: built-in and file plugins loaded (compiled, verified,
/// described) by the sandbox; channels validated by their providers.
pub struct Built<'a>(pub &'a Plugins);

/// [`Built`] for a plan that sends nothing (`picket check`): notification secrets that
/// are not set do not fail the load.
pub struct Silent<'a>(pub &'a Plugins);

impl Catalog for Silent<'_> {
    fn builtins(&self) -> Vec<String> {
        Built(self.0).builtins()
    }

    async fn plugin(&self, plugin: PluginRef<'_>) -> Option<Result<Described, Failure>> {
        Built(self.0).plugin(plugin).await
    }

    fn channel_kinds(&self) -> Vec<String> {
        Built(self.0).channel_kinds()
    }

    fn channel(&self, name: &str, kind: &str, fields: Fields) -> Result<Channel, FieldError> {
        Built(self.0).channel(name, kind, fields)
    }

    fn notifies(&self) -> bool {
        false
    }
}

impl Catalog for Built<'_> {
    fn builtins(&self) -> Vec<String> {
        crate::plugin::builtin_names().map(String::from).collect()
    }

    async fn plugin(&self, plugin: PluginRef<'_>) -> Option<Result<Described, Failure>> {
        let loaded = match plugin {
            PluginRef::Builtin(name) => self.0.builtin(name).await?,
            PluginRef::File { path, sha256 } => self.0.file(path, sha256).await,
        };
        Some(loaded.map(|l| Described { sha256: l.sha256.clone(), info: l.info.clone() }))
    }

    fn channel_kinds(&self) -> Vec<String> {
        crate::notify::kinds().map(String::from).collect()
    }

    fn channel(&self, name: &str, kind: &str, fields: Fields) -> Result<Channel, FieldError> {
        crate::notify::build(name, kind, fields)
    }
}

/// Reads a check file, or every `*.toml` directly inside a directory, loading the plugins
/// it names into `plugins`.
pub async fn load(path: &Path, plugins: &Plugins) -> Result<Plan, ConfigErrors> {
    picket_config::load(path, &Built(plugins)).await
}

/// As [`load`], for a run that sends no notifications (see [`Silent`]).
pub async fn load_silent(path: &Path, plugins: &Plugins) -> Result<Plan, ConfigErrors> {
    picket_config::load(path, &Silent(plugins)).await
}
