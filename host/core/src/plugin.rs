//! What a plugin says about itself (`describe`), in host types: its params and metrics.
//! The sandbox produces it; config validates check files against it through a catalog.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamInfo {
    pub name: String,
    pub kind: String,
    pub required: bool,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricInfo {
    pub name: String,
    pub unit: String,
    pub description: String,
    pub lower_is_worse: bool,
}

/// What `describe` returned, in host types.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    pub params: Vec<ParamInfo>,
    pub metrics: Vec<MetricInfo>,
}

impl PluginInfo {
    pub fn metric(&self, name: &str) -> Option<&MetricInfo> {
        self.metrics.iter().find(|m| m.name == name)
    }
}
