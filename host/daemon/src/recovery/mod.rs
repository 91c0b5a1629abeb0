//! Recovery actions, the I/O half: [`action::run`] runs one attempt (a command or an
//! HTTP request). The budget (when to run, when to give up) is the core's.

pub mod action;

pub use picket_core::recovery::*;
