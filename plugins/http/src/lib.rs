//! The built-in `http` check: one request through the host's `http` capability, then
//! expectations on the status, the body (substring, regex) and JSON fields.
//!
//! ```toml
//! [[check]]
//! name = "mech-queue"
//! plugin = "http"
//! target = "http://localhost:3003/health"
//! expect = { status = 200, json = { status = "healthy" } }
//! ```

use std::collections::BTreeMap;

use picket_sdk::cap::http::{self, Request};
use picket_sdk::time::human_secs;
use picket_sdk::{Config, Info, ParamKind, Plugin, Report, Shape, Status, export_plugin, info, json};
use serde::Deserialize;
use serde_json::Value;

/// How much of a failing body is kept as diagnostics.
const EXCERPT_BYTES: usize = 1024;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    expect: Expect,
    #[serde(default)]
    follow_redirects: bool,
    #[serde(default)]
    max_body: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// 200, [200, 204], "2xx" or "200-399".
    status: Option<Value>,
    /// A substring the body must contain.
    body: Option<String>,
    body_regex: Option<String>,
    /// Dotted path (or nested table) to expected value.
    json: Option<Value>,
}

struct Http;

/// What `expect` may hold, so `picket validate` refuses `{ stauts = 200 }` or
/// `{ status = "200" }` at its line instead of every run failing to parse it.
fn expect_shape() -> Shape {
    // One code or a class or range, as `StatusMatcher::parse` takes them.
    let code = Shape::integer()
        .or(Shape::string().pattern("[1-5]xx|[1-5][0-9]{2} *- *[1-5][0-9]{2}", "a status class (\"2xx\") or range (\"200-399\")"));
    Shape::table()
        .key("status", code.clone().or(Shape::list(code)), "200, [200, 204], \"2xx\" or \"200-399\" (default 2xx)")
        .key("body", Shape::string(), "a substring the body must contain")
        .key("body_regex", Shape::string(), "a regular expression the body must match")
        .key("json", Shape::table().other_keys(Shape::any()), "dotted path (or nested table) = expected value")
}

impl Plugin for Http {
    fn describe() -> Info {
        info("http", "One HTTP(S) request; checks status, body and JSON fields")
            .url_target(&[("http", Some(80)), ("https", Some(443))], "http://localhost:8080/health")
            .param("method", ParamKind::String, false, "GET (default), HEAD, POST, ...")
            .param_shaped("headers", ParamKind::Table, false, "extra request headers", Shape::table().other_keys(Shape::string()))
            .param("body", ParamKind::String, false, "request body")
            .param_shaped(
                "expect",
                ParamKind::Table,
                false,
                "status (200, [200,204], \"2xx\", \"200-399\"), body, body_regex, json = { dotted.path = value }",
                expect_shape(),
            )
            .param("follow_redirects", ParamKind::Bool, false, "follow redirects that stay within granted origins (default false)")
            .param("max_body", ParamKind::Integer, false, "bytes of body to read (default 1 MiB)")
            .metric("response_time", "s", "from sending the request to the end of the body")
            .metric("status_code", "", "HTTP status code")
            .metric("body_bytes", "B", "body size read")
            .metric_lower_is_worse("cert_expires_days", "days", "days until the TLS certificate expires (https only)")
            .only("for https targets")
            .build()
    }

    fn check(cfg: Config) -> Report {
        match run(&cfg) {
            Ok(r) | Err(r) => r,
        }
    }
}

fn run(cfg: &Config) -> Result<Report, Report> {
    let p: Params = cfg.params()?;
    let status_ok = StatusMatcher::parse(p.expect.status.as_ref())?;
    let regex = match &p.expect.body_regex {
        Some(r) => Some(regex::Regex::new(r).map_err(|e| Report::unknown(format!("invalid expect.body_regex: {e}")))?),
        None => None,
    };
    let req = Request {
        method: p.method.clone().unwrap_or_else(|| "GET".into()).to_uppercase(),
        url: cfg.target.clone(),
        headers: p.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        body: p.body.clone().map(String::into_bytes),
        timeout_ms: cfg.io_timeout_ms(),
        follow_redirects: p.follow_redirects,
        max_body_bytes: p.max_body.unwrap_or(1 << 20),
    };
    let resp = http::send(&req).map_err(|e| Report::critical(format!("{} {}: {}", req.method, cfg.target, e.message)))?;

    let secs = resp.elapsed_us as f64 / 1e6;
    let mut report = Report::ok(format!("HTTP {} in {}", resp.status, human_secs(secs)))
        .metric("response_time", secs, "s")
        .metric("status_code", resp.status as f64, "")
        .metric("body_bytes", resp.body.len() as f64, "B");
    if let Some(s) = resp.cert_expires_in_s {
        report.push_metric("cert_expires_days", s as f64 / 86_400.0, "days");
    }

    let body = String::from_utf8_lossy(&resp.body);
    let mut problems = Vec::new();
    if !status_ok.matches(resp.status) {
        problems.push(format!("status {} (expected {})", resp.status, status_ok.describe()));
    }
    if let Some(needle) = &p.expect.body
        && !body.contains(needle.as_str())
    {
        problems.push(format!("body does not contain {needle:?}"));
    }
    if let Some(re) = &regex
        && !re.is_match(&body)
    {
        problems.push(format!("body does not match /{}/", re.as_str()));
    }
    if let Some(expected) = &p.expect.json {
        match serde_json::from_str::<Value>(&body) {
            Err(e) => problems.push(format!("body is not JSON ({e})")),
            Ok(doc) => {
                for (path, want) in json::flatten_expectations(expected) {
                    match json::lookup(&doc, &path) {
                        None => problems.push(format!("json {path} absent (expected {want})")),
                        Some(got) if !json::loosely_equal(got, &want) => problems.push(format!("json {path} = {got} (expected {want})")),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    if !problems.is_empty() {
        report.status = Status::Critical;
        report.summary = format!("HTTP {}: {}", resp.status, problems.join("; "));
        report.diagnostics = Some(excerpt(&resp.final_url, resp.status, &body, resp.body_truncated));
    }
    Ok(report)
}

fn excerpt(url: &str, status: u16, body: &str, truncated: bool) -> String {
    let mut cut = body.len().min(EXCERPT_BYTES);
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    let more = if cut < body.len() || truncated { "\n[… body truncated]" } else { "" };
    format!("{url} answered {status}\n{}{more}", &body[..cut])
}

/// The set of acceptable status codes.
struct StatusMatcher {
    ranges: Vec<(u16, u16)>,
}

impl StatusMatcher {
    fn parse(spec: Option<&Value>) -> Result<Self, Report> {
        let bad = |v: &Value| Report::unknown(format!("invalid expect.status {v}: use 200, [200, 204], \"2xx\" or \"200-399\""));
        let one = |v: &Value| -> Result<(u16, u16), Report> {
            match v {
                Value::Number(n) => n.as_u64().filter(|n| (100..600).contains(n)).map(|n| (n as u16, n as u16)).ok_or_else(|| bad(v)),
                Value::String(s) => {
                    let s = s.trim();
                    if let Some(d) = s.strip_suffix("xx").and_then(|d| d.parse::<u16>().ok()) {
                        return Ok((d * 100, d * 100 + 99));
                    }
                    let (a, b) = s.split_once('-').ok_or_else(|| bad(v))?;
                    match (a.trim().parse(), b.trim().parse()) {
                        (Ok(a), Ok(b)) if a <= b => Ok((a, b)),
                        _ => Err(bad(v)),
                    }
                }
                _ => Err(bad(v)),
            }
        };
        let ranges = match spec {
            None => vec![(200, 299)],
            Some(Value::Array(items)) => items.iter().map(one).collect::<Result<_, _>>()?,
            Some(v) => vec![one(v)?],
        };
        Ok(StatusMatcher { ranges })
    }

    fn matches(&self, status: u16) -> bool {
        self.ranges.iter().any(|(a, b)| (*a..=*b).contains(&status))
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = self.ranges.iter().map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect();
        parts.join(", ")
    }
}

export_plugin!(Http);
