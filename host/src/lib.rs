//! picket: health checks declared in TOML, each run inside a WebAssembly sandbox.
//!
//! The data walk, one direction only:
//!
//! ```text
//! TOML ─config─▶ Plan ─runner─▶ sandbox (plugin `check`) ─▶ Outcome ─evaluate─▶ CheckResult ─▶ output
//! ```
//!
//! Layout:
//! - [`config`]: check files → a validated [`config::Plan`]; nothing downstream re-validates.
//! - [`engine`]: the only wasmtime configuration, the epoch ticker, the compile cache.
//! - [`plugin`]: built-in and file plugins, verified, compiled and described once.
//! - [`sandbox`]: one run in a fresh store, one module per host capability, grants.
//! - [`evaluate`]: a plugin report plus thresholds → a [`result::CheckResult`].
//! - [`runner`]: runs a plan's checks concurrently, bounded; `--wait` retries.
//! - [`output`]: human, JSON, JUnit, TAP and Nagios renderings of results.
//! - [`cli`]: the `picket` command line and its exit codes.
//! - [`author`]: `picket plugin new|build|bindgen`, for people writing plugins.

pub use picket_api as api;
pub use picket_author as author;
pub use picket_core::{forecast, policy, result, shape, state, text, threshold, units};
pub use picket_notify as notify;
pub use picket_runner::{self as runner, evaluate};
pub use picket_sandbox::{self as sandbox, engine, plugin};
pub use picket_store as store;

pub use picket_daemon::{self as daemon, config, events, recovery, schedule};

pub mod cli;
pub mod output;
