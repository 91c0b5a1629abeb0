//! `picket-sdk`: everything a Rust check plugin needs, so the plugin itself stays small.
//!
//! This crate is the only place that runs `wit_bindgen::generate!` against `wit/`; every
//! built-in plugin and the Rust template use it. A plugin implements [`Plugin`] and calls
//! [`export_plugin!`]:
//!
//! ```ignore
//! struct Ping;
//! impl picket_sdk::Plugin for Ping {
//!     fn describe() -> picket_sdk::Info { picket_sdk::info("ping", "pings").build() }
//!     fn check(cfg: picket_sdk::Config) -> picket_sdk::Report {
//!         picket_sdk::Report::ok("pong")
//!     }
//! }
//! picket_sdk::export_plugin!(Ping);
//! ```
//!
//! Layout: [`report`] builds reports and describe info, [`shape`] declares what a table or
//! list param holds (checked by `picket validate`), [`params`] decodes the JSON params,
//! [`net`] wraps the `tcp` capability in `std::io::Read`/`Write`, [`json`] looks up dotted
//! paths, [`time`] measures with the host clock, [`target`] reads the target as the host
//! parsed it, [`resp`] speaks the Redis protocol.
//!
//! The SDK parses nothing the host already parsed: durations and sizes in params arrive as
//! milliseconds and bytes, the target's parts as [`Endpoint`] (with the host as granted).

pub mod json;
pub mod net;
pub mod params;
pub mod report;
pub mod resp;
pub mod shape;
pub mod target;
pub mod time;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
        default_bindings_module: "picket_sdk::bindings",
    });
}

pub use bindings::picket::plugin::types::{
    Config, Endpoint, Error as CapError, ErrorKind, ForecastInfo, Info, Metric, MetricInfo, ParamInfo, ParamKind, Report, ShapeKey,
    ShapeNode, Status, StringPattern, TargetShape, UrlScheme, UrlShape, ValueKind,
};
pub use report::{InfoBuilder, info};
pub use shape::Shape;

/// The capabilities the host offers, re-exported under short names.
pub mod cap {
    pub use crate::bindings::picket::plugin::{clock, disk, http, log, tcp};
}

/// What a check plugin implements.
pub trait Plugin {
    /// Name, version, accepted params and reported metrics.
    fn describe() -> Info;
    /// Runs the check once.
    fn check(config: Config) -> Report;
}

#[doc(hidden)]
pub struct Adapter<P>(core::marker::PhantomData<P>);

impl<P: Plugin> bindings::exports::picket::plugin::check::Guest for Adapter<P> {
    fn describe() -> Info {
        P::describe()
    }
    fn check(config: Config) -> Report {
        P::check(config)
    }
}

/// Exports a [`Plugin`] implementation as the component's `check` interface.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        type __PicketAdapter = $crate::Adapter<$plugin>;
        $crate::bindings::__export_plugin_world!(__PicketAdapter);
    };
}

/// Logs through the host at the given level; the host tags it with the check's name.
pub fn log(level: cap::log::Level, message: &str) {
    cap::log::log(level, message);
}
