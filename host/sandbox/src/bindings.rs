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

/// The version of the plugin contract this host implements (`package` in `wit/plugin.wit`).
pub const CONTRACT_VERSION: &str = "0.3.0";

/// The export name every plugin must provide, versioned.
pub const CHECK_EXPORT: &str = "picket:plugin/check@0.3.0";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constants_match_the_wit() {
        let wit = include_str!("../../../wit/plugin.wit");
        assert!(wit.contains(&format!("\npackage picket:plugin@{CONTRACT_VERSION};\n")));
        assert_eq!(CHECK_EXPORT, format!("picket:plugin/check@{CONTRACT_VERSION}"));
    }
}
