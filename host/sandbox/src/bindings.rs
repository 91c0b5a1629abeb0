//! The host side of `wit/plugin.wit`. Architecture Invariant: this is the only
//! `bindgen!` in the host; capability modules implement the generated `Host` traits.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "plugin",
    imports: { default: async },
    exports: { default: async },
    with: {
        "picket:plugin/tcp.connection": super::tcp::Connection,
    },
});

pub use self::picket::plugin::types;

/// The export name every plugin must provide, versioned.
pub const CHECK_EXPORT: &str = "picket:plugin/check@0.1.0";
