//! picket's pure core: what a check result is and what follows from it, with time passed in.
//!
//! Owns the vocabulary every other crate speaks — [`result`] (a run's status, metrics and
//! failure reason), [`units`] (quantities, durations, sizes), [`threshold`]s — and the
//! decisions made from results: [`schedule`] (when a check is due), [`state`] (the per-check
//! state machine and the [`events`] it emits), [`forecast`] (least-squares trends) and
//! [`policy`] (alerting and forecast settings as plain data). [`plugin`] is what a plugin
//! declares about itself (with [`shape`], the shape of its params' values), and [`target`] resolves a check's target against it into
//! [`grants`] and the parsed endpoint the plugin receives.
//!
//! Architecture Invariant: no I/O and no clock. Nothing here reads the time, a file, the
//! network or the store; callers pass `now` in. So every rule is unit-tested with a
//! hand-moved clock, and this crate never depends on tokio, wasmtime, rusqlite or an HTTP
//! stack (see `Cargo.toml`).

pub mod events;
pub mod forecast;
pub mod grants;
pub mod notify;
pub mod plugin;
pub mod policy;
pub mod recovery;
pub mod result;
pub mod schedule;
pub mod shape;
pub mod state;
pub mod target;
pub mod text;
pub mod threshold;
pub mod units;
