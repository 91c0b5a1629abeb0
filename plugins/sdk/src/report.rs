//! Building reports and describe info with little ceremony.

use crate::{ForecastInfo, Info, Metric, MetricInfo, ParamInfo, ParamKind, Report, Shape, Status, TargetShape, UrlScheme, UrlShape};

impl Report {
    pub fn new(status: Status, summary: impl Into<String>) -> Self {
        Report { status, summary: summary.into(), metrics: Vec::new(), diagnostics: None }
    }
    pub fn ok(summary: impl Into<String>) -> Self {
        Self::new(Status::Ok, summary)
    }
    pub fn warning(summary: impl Into<String>) -> Self {
        Self::new(Status::Warning, summary)
    }
    pub fn critical(summary: impl Into<String>) -> Self {
        Self::new(Status::Critical, summary)
    }
    pub fn unknown(summary: impl Into<String>) -> Self {
        Self::new(Status::Unknown, summary)
    }
    /// Adds a metric; see the WIT `metric.unit` for the units the host understands.
    pub fn metric(mut self, name: &str, value: f64, unit: &str) -> Self {
        self.metrics.push(Metric { name: name.into(), value, unit: unit.into() });
        self
    }
    pub fn push_metric(&mut self, name: &str, value: f64, unit: &str) {
        self.metrics.push(Metric { name: name.into(), value, unit: unit.into() });
    }
    pub fn diagnostics(mut self, text: impl Into<String>) -> Self {
        self.diagnostics = Some(text.into());
        self
    }
}

/// Starts describe info for a plugin; finish with [`InfoBuilder::build`].
pub fn info(name: &str, description: &str) -> InfoBuilder {
    InfoBuilder {
        info: Info {
            name: name.into(),
            version: "0.1.0".into(),
            description: description.into(),
            params: Vec::new(),
            metrics: Vec::new(),
            targets: Vec::new(),
            forecasts: Vec::new(),
        },
    }
}

pub struct InfoBuilder {
    info: Info,
}

impl InfoBuilder {
    pub fn version(mut self, version: &str) -> Self {
        self.info.version = version.into();
        self
    }
    /// An accepted param; the WIT `param-kind` says how each kind arrives in the params.
    pub fn param(mut self, name: &str, kind: ParamKind, required: bool, description: &str) -> Self {
        self.info.params.push(ParamInfo { name: name.into(), kind, required, description: description.into(), shape: Vec::new() });
        self
    }
    /// An accepted param whose inside `picket validate` checks against `shape` (a table's
    /// keys and their kinds, a list's items); the shape's kinds must be ones `kind` admits.
    pub fn param_shaped(mut self, name: &str, kind: ParamKind, required: bool, description: &str, shape: Shape) -> Self {
        self.info.params.push(ParamInfo { name: name.into(), kind, required, description: description.into(), shape: shape.nodes() });
        self
    }
    /// Accepts URL targets with these schemes, each with the port a URL without one means;
    /// `example` is quoted in `picket validate`'s message for a target that does not fit.
    pub fn url_target(self, schemes: &[(&str, Option<u16>)], example: &str) -> Self {
        self.url_shape(schemes, false, example)
    }
    /// Like [`InfoBuilder::url_target`], for URLs that must name a user (`postgres://app@db/app`).
    pub fn url_target_with_user(self, schemes: &[(&str, Option<u16>)], example: &str) -> Self {
        self.url_shape(schemes, true, example)
    }
    fn url_shape(mut self, schemes: &[(&str, Option<u16>)], user_required: bool, example: &str) -> Self {
        let schemes = schemes.iter().map(|(name, default_port)| UrlScheme { name: (*name).into(), default_port: *default_port }).collect();
        self.info.targets.push(TargetShape::Url(UrlShape { schemes, user_required, example: example.into() }));
        self
    }
    /// Accepts `host:port` targets.
    pub fn host_port_target(mut self) -> Self {
        self.info.targets.push(TargetShape::HostPort);
        self
    }
    /// Accepts absolute paths (granting `disk.stat` under them).
    pub fn path_target(mut self) -> Self {
        self.info.targets.push(TargetShape::Path);
        self
    }
    /// A derived metric every check gets under `picket run`: days until `metric`'s trend
    /// over `window_s` seconds reaches `reaches` (in the metric's unit).
    pub fn forecast(mut self, name: &str, metric: &str, reaches: f64, window_s: u32, description: &str) -> Self {
        self.info.forecasts.push(ForecastInfo {
            name: name.into(),
            metric: metric.into(),
            reaches,
            window_s,
            description: description.into(),
        });
        self
    }
    /// A metric where larger values are worse (latency, bytes used).
    pub fn metric(mut self, name: &str, unit: &str, description: &str) -> Self {
        self.info.metrics.push(MetricInfo {
            name: name.into(),
            unit: unit.into(),
            description: description.into(),
            lower_is_worse: false,
            when: None,
        });
        self
    }
    /// A metric where smaller values are worse (days until a certificate expires).
    pub fn metric_lower_is_worse(mut self, name: &str, unit: &str, description: &str) -> Self {
        self.info.metrics.push(MetricInfo {
            name: name.into(),
            unit: unit.into(),
            description: description.into(),
            lower_is_worse: true,
            when: None,
        });
        self
    }
    /// Says the metric declared last is reported only under a condition, completing
    /// "reported only …" ("for https targets"): a check whose threshold finds it missing
    /// says so in those words.
    pub fn only(mut self, when: &str) -> Self {
        if let Some(m) = self.info.metrics.last_mut() {
            m.when = Some(when.into());
        }
        self
    }
    pub fn build(self) -> Info {
        self.info
    }
}

impl Status {
    /// The worse of two statuses (unknown counts as worse than critical here only when
    /// neither is critical: a critical finding is the more useful answer).
    pub fn worst(self, other: Status) -> Status {
        fn rank(s: Status) -> u8 {
            match s {
                Status::Ok => 0,
                Status::Warning => 1,
                Status::Unknown => 2,
                Status::Critical => 3,
            }
        }
        if rank(other) > rank(self) { other } else { self }
    }
}
