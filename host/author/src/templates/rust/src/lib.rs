//! {{name}}: a picket check in Rust.
//!
//! GETs the check's target through picket's `http` capability, so it reaches only what the
//! check's TOML grants, and reports critical unless the status is `expect_status` (default
//! 200) and the body contains `contains` (when given). Edit `check` to test what you need;
//! `describe` tells picket your parameters and metrics.

wit_bindgen::generate!({ path: "wit", world: "plugin" });

use exports::picket::plugin::check::Guest;
use picket::plugin::http::{self, Request};
use picket::plugin::log::{self, Level};
use picket::plugin::types::{Config, Info, Metric, MetricInfo, ParamInfo, ParamKind, Report, Status, TargetShape, UrlScheme, UrlShape};

struct Check;

fn report(status: Status, summary: String, metrics: Vec<Metric>, diagnostics: Option<String>) -> Report {
    Report { status, summary, metrics, diagnostics }
}

impl Guest for Check {
    fn describe() -> Info {
        let param = |name: &str, kind: ParamKind, description: &str| ParamInfo {
            name: name.into(),
            kind,
            required: false,
            description: description.into(),
            // Empty: picket checks only `kind`. A table or list param can declare the
            // shape of its inside (keys, their kinds, items) for `picket validate`.
            shape: vec![],
        };
        let scheme = |name: &str, port: u16| UrlScheme { name: name.into(), default_port: Some(port) };
        Info {
            name: "{{name}}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "the target answers HTTP with the expected status".into(),
            params: vec![
                param("expect_status", ParamKind::Integer, "the status that means up (default 200)"),
                param("contains", ParamKind::String, "text the body must contain"),
            ],
            metrics: vec![MetricInfo {
                name: "response_time".into(),
                unit: "s".into(),
                description: "time to the full response".into(),
                lower_is_worse: false,
                when: None,
            }],
            // The targets this check takes: `picket validate` refuses others, and the
            // target grants the `http` capability its origin.
            targets: vec![TargetShape::Url(UrlShape {
                schemes: vec![scheme("http", 80), scheme("https", 443)],
                user_required: false,
                example: "http://localhost:8080/health".into(),
            })],
            forecasts: vec![],
        }
    }

    fn check(config: Config) -> Report {
        let params: serde_json::Value = serde_json::from_str(&config.params).unwrap_or_default();
        let expect = params["expect_status"].as_u64().unwrap_or(200);
        let contains = params["contains"].as_str();
        let request = Request {
            method: "GET".into(),
            url: config.target.clone(),
            headers: vec![],
            body: None,
            timeout_ms: config.timeout_ms,
            follow_redirects: true,
            max_body_bytes: 1 << 20,
        };
        let resp = match http::send(&request) {
            Ok(r) => r,
            Err(e) => {
                let kind = format!("{:?}", e.kind).to_lowercase();
                return report(Status::Critical, format!("{kind}: {}", e.message), vec![], None);
            }
        };
        let seconds = resp.elapsed_us as f64 / 1e6;
        let rt = Metric { name: "response_time".into(), value: seconds, unit: "s".into() };
        let body = String::from_utf8_lossy(&resp.body);
        let excerpt = || Some(body.chars().take(300).collect::<String>());
        log::log(Level::Debug, &format!("{} answered {}", config.target, resp.status));
        if u64::from(resp.status) != expect {
            return report(Status::Critical, format!("HTTP {}, expected {expect}", resp.status), vec![rt], excerpt());
        }
        if let Some(text) = contains.filter(|t| !body.contains(t)) {
            return report(Status::Critical, format!("HTTP {} but the body lacks {text:?}", resp.status), vec![rt], excerpt());
        }
        report(Status::Ok, format!("HTTP {} in {:.0} ms", resp.status, seconds * 1000.0), vec![rt], None)
    }
}

export!(Check);
