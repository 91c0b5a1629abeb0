//! picket's integration tests: the real sandbox, real plugins, real servers on loopback,
//! and the real `picket` binary. One test binary (as ripgrep does); each module says
//! what belongs in it. The servers, receivers, server processes and `picket run` come
//! from the `picket-testkit` crate (`host/testkit`), shared with the benches.
//!
//! - `sandbox`: hostile fixture plugins, each contained and reported with its reason.
//! - `http`, `tcp`, `disk`: the built-in plugins against in-process servers and temp dirs.
//! - `redis`, `postgres`: those plugins against real server processes started by `picket_testkit`.
//! - `config_ui`: `tests/ui/*.toml` paired with the exact error text `picket validate` prints.
//! - `cli`: exit codes, every output format, `--wait`, the compile cache.
//! - `secrets`: passwords never appear in any output, log or error.
//! - `daemon`: `picket run` as a process: API, /metrics, kill -9, reload, SIGTERM,
//!   forecasts, and a real Prometheus scraping it.
//! - `notify`: the providers (webhook, Slack, PagerDuty, real Alertmanager, SMTP).
//! - `outbox`: receiver outages, `kill -9` with notifications pending, silences.
//! - `alerting`: flapping, `depends_on` against a real Redis, recovery actions (a killed
//!   process, real containers through a private dockerd, a budget that gives up).
//! - `support`: what the daemon-level tests share (a switchable HTTP app, a hook route).
//! - `examples`: the other-language plugin examples, built from source and run.
//! - `plugins`: `picket plugin inspect`, sha256 pins, components that are not plugins.
//! - `authoring`: `picket plugin new|build` per language, and the refusals.

mod alerting;
mod authoring;
mod cli;
mod config_ui;
mod daemon;
mod disk;
mod examples;
mod http;
mod notify;
mod outbox;
mod plugins;
mod postgres;
mod redis;
mod sandbox;
mod secrets;
mod support;
mod tcp;
