//! What the API may ask of a running daemon. The daemon implements [`Handle`]; the API
//! never sees the daemon's internals, and history comes from the store and the journal.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use picket_store::Store;
use picket_store::journal::Journal;

use crate::types::{CheckView, ReloadOutcome};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait Handle: Send + Sync + 'static {
    /// Every check's current state, in name order.
    fn checks(&self) -> Vec<CheckView>;
    /// One check's current state.
    fn check(&self, name: &str) -> Option<CheckView>;
    /// The configured checks' names.
    fn check_names(&self) -> Vec<String>;
    fn started(&self) -> DateTime<Utc>;
    /// False after a rejected reload (the running configuration stayed).
    fn config_ok(&self) -> bool;
    /// Files loaded, the last reload and its errors, for `/api/v1/status`.
    fn config_status(&self) -> serde_json::Value;
    /// History; `None` when the daemon keeps none (`--no-store`).
    fn store(&self) -> Option<Arc<Store>>;
    /// The outbox, silences and recovery attempts.
    fn journal(&self) -> Arc<Journal>;
    /// Renders the Prometheus exposition in chunks. Blocking: called on a blocking thread.
    fn render_metrics(&self, sink: &mut dyn FnMut(String));
    /// Reloads the check files (as SIGHUP does).
    fn reload(&self) -> BoxFuture<'_, ReloadOutcome>;
    /// A silence was added or ended: the responder re-reads them.
    fn silences_changed(&self);
    /// Forgets a check's recovery attempts (`picket recover reset`); false when the
    /// daemon is shutting down.
    fn reset_recovery(&self, check: &str) -> BoxFuture<'_, bool>;
}
