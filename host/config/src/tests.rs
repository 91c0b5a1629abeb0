//! Config against a fake catalog: check files validated without a wasm engine.

use picket_core::notify::{Channel, FieldError, Fields, RetryPolicy};
use std::time::Duration;

use picket_core::grants::Grant;
use picket_core::plugin::{ForecastInfo, MetricInfo, ParamInfo, ParamKind, PluginInfo, TargetShape, UrlScheme, UrlShape};
use picket_core::result::{Failure, Status};
use picket_core::shape::{Pattern, Shape, ShapeKey, ValueKind};

use super::*;

/// Two built-ins: `probe`, with a `path` param, shaped `expect`, `headers` and `mode`
/// params (see [`expect_shape`]), a `latency` metric and a `cert_days` metric reported
/// only for https targets, taking any target;
/// and `store`, which takes `store://` URLs (port 7000 by default, a user required) or
/// paths, has params of every kind, and forecasts its `used` metric. Channels of kind
/// `pager` need a `key`.
struct Fake;

impl Catalog for Fake {
    fn builtins(&self) -> Vec<String> {
        vec!["probe".into(), "store".into()]
    }

    async fn plugin(&self, plugin: PluginRef<'_>) -> Option<Result<Described, Failure>> {
        match plugin {
            PluginRef::Builtin("probe") => Some(Ok(Described {
                sha256: "ab".repeat(32),
                info: PluginInfo {
                    name: "probe".into(),
                    version: "1".into(),
                    description: String::new(),
                    params: vec![
                        param("path", ParamKind::String),
                        shaped("expect", ParamKind::Table, expect_shape()),
                        shaped("headers", ParamKind::Table, Shape { other_keys: Some(Box::new(string())), ..Shape::table(Vec::new()) }),
                        shaped("mode", ParamKind::String, Shape { one_of: vec!["disable".into(), "require".into()], ..string() }),
                    ],
                    metrics: vec![
                        metric("latency", "s"),
                        MetricInfo { when: Some("for https targets".into()), ..metric("cert_days", "days") },
                    ],
                    targets: Vec::new(),
                    forecasts: Vec::new(),
                }
                .into(),
            })),
            PluginRef::Builtin("store") => Some(Ok(Described {
                sha256: "cd".repeat(32),
                info: PluginInfo {
                    name: "store".into(),
                    version: "1".into(),
                    description: String::new(),
                    params: ParamKind::ALL.iter().map(|k| param(&format!("a_{k}"), *k)).collect(),
                    metrics: vec![metric("used", "%")],
                    targets: vec![
                        TargetShape::Url(UrlShape {
                            schemes: vec![UrlScheme { name: "store".into(), default_port: Some(7000) }],
                            user_required: true,
                            example: "store://app@localhost/data".into(),
                        }),
                        TargetShape::Path,
                    ],
                    forecasts: vec![ForecastInfo {
                        name: "days_until_full".into(),
                        metric: "used".into(),
                        reaches: 100.0,
                        window: Duration::from_secs(7 * 86400),
                        description: String::new(),
                    }],
                }
                .into(),
            })),
            PluginRef::Builtin(_) => None,
            PluginRef::File { path, .. } => Some(Err(Failure::Load(format!("fake cannot load {}", path.display())))),
        }
    }

    fn channel_kinds(&self) -> Vec<String> {
        vec!["pager".into()]
    }

    fn channel(&self, name: &str, kind: &str, fields: Fields) -> Result<Channel, FieldError> {
        if kind != "pager" {
            return Err(FieldError::new("kind", format!("unknown kind `{kind}`")));
        }
        fields.str("key")?;
        Ok(Channel {
            name: name.into(),
            kind: kind.into(),
            fields: fields.values().clone(),
            retry: RetryPolicy::default(),
            skips: Vec::new(),
            refresh_every: None,
        })
    }
}

fn param(name: &str, kind: ParamKind) -> ParamInfo {
    ParamInfo { name: name.into(), kind, required: false, description: String::new(), shape: None }
}

fn shaped(name: &str, kind: ParamKind, shape: Shape) -> ParamInfo {
    ParamInfo { shape: Some(shape), ..param(name, kind) }
}

fn metric(name: &str, unit: &str) -> MetricInfo {
    MetricInfo { name: name.into(), unit: unit.into(), description: String::new(), lower_is_worse: false, when: None }
}

fn string() -> Shape {
    Shape::of(&[ValueKind::String])
}

fn key(name: &str, shape: Shape, required: bool) -> ShapeKey {
    ShapeKey { name: name.into(), required, description: format!("the {name}"), shape }
}

/// Like the http plugin's `expect`: `status` is 200, "2xx", "200-399" or a list of those;
/// `json` takes any keys; `retry` is a nested table with a required duration and a size.
fn expect_shape() -> Shape {
    let class = Pattern::new("[1-5]xx|[0-9]{3}-[0-9]{3}", "a status class (\"2xx\") or range (\"200-399\")").unwrap();
    let code = Shape { pattern: Some(class), ..Shape::of(&[ValueKind::Integer, ValueKind::String]) };
    let status = Shape { kinds: vec![ValueKind::Integer, ValueKind::String, ValueKind::List], items: Some(Box::new(code.clone())), ..code };
    let retry =
        Shape::table(vec![key("every", Shape::of(&[ValueKind::Duration]), true), key("max_body", Shape::of(&[ValueKind::Size]), false)]);
    Shape::table(vec![
        key("status", status, false),
        key("body", string(), false),
        key("json", Shape { other_keys: Some(Box::new(Shape::default())), ..Shape::table(Vec::new()) }, false),
        key("retry", retry, false),
    ])
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::fs::write(f.path(), text).unwrap();
    f
}

#[tokio::test]
async fn a_check_is_validated_against_what_the_catalog_describes() {
    let f = file(
        "[notify.oncall]\nkind = \"pager\"\nkey = \"k\"\n\n[route.critical]\nnotify = [\"oncall\"]\n\n\
         [[check]]\nname = \"api\"\nplugin = \"probe\"\ntarget = \"http://localhost:8080/\"\npath = \"/health\"\n\
         thresholds = { latency = { warn = \"1s\" } }\n",
    );
    let plan = load(f.path(), &Fake).await.unwrap();
    let check = &plan.checks[0];
    assert_eq!(check.plugin.as_ref().unwrap().sha256, "ab".repeat(32));
    assert_eq!(check.params, r#"{"path":"/health"}"#);
    assert_eq!(plan.notify.channels["oncall"].kind, "pager");
}

#[tokio::test]
async fn what_the_catalog_does_not_know_is_an_error_at_its_line() {
    let f = file(
        "[notify.oncall]\nkind = \"pager\"\n\n[[check]]\nname = \"api\"\nplugin = \"prbe\"\ntarget = \"x\"\n\n\
         [[check]]\nname = \"db\"\nplugin = \"probe\"\ntarget = \"x\"\npth = \"/\"\n",
    );
    let errors = load(f.path(), &Fake).await.unwrap_err().to_string();
    assert!(errors.contains(":1:1: [notify.oncall]: missing the required field `key`"), "{errors}");
    assert!(errors.contains(":6:10: check \"api\", field `plugin`: unknown plugin `prbe`; did you mean `probe`?"), "{errors}");
    assert!(errors.contains(":13:1: check \"db\": unknown field `pth` for plugin `probe`; did you mean `path`?"), "{errors}");
}

#[tokio::test]
async fn the_fingerprint_sees_what_runs_and_ignores_how_it_reads() {
    async fn fingerprint(extra: &str) -> String {
        let f = file(&format!("[[check]]\nname = \"api\"\nplugin = \"probe\"\ntarget = \"http://localhost:8080/\"\n{extra}"));
        load(f.path(), &Fake).await.unwrap().checks[0].fingerprint.clone()
    }
    let base = fingerprint("").await;
    assert_eq!(fingerprint("").await, base, "the same file twice");
    assert_eq!(fingerprint("description = \"the public API\"\n").await, base, "a description changes nothing that runs");
    for changed in [
        "path = \"/health\"\n",
        "timeout = \"3s\"\n",
        "every = \"10s\"\n",
        "thresholds = { latency = { warn = \"1s\" } }\n",
        "alert = { after = 3 }\n",
        "allow = [\"tcp:db:5432\"]\n",
        "recover = { run = [\"true\"] }\n",
        "alert = { flap_start = 60 }\n",
        "recover = { run = [\"true\"], inherit_env = [\"DOCKER_HOST\"] }\n",
        "runbook = \"https://wiki.example.com/api\"\n",
    ] {
        assert_ne!(fingerprint(changed).await, base, "{changed}");
    }
}

#[tokio::test]
async fn targets_are_checked_against_the_declared_shapes_and_grant_the_declared_port() {
    let f = file(
        "[[check]]\nname = \"db\"\nplugin = \"store\"\ntarget = \"store://app:s3cret@Bücher.example/data?mode=ro\"\n\n\
         [[check]]\nname = \"vol\"\nplugin = \"store\"\ntarget = \"/var/./lib\"\n",
    );
    let plan = load(f.path(), &Fake).await.unwrap();
    let db = &plan.checks[0];
    assert_eq!(db.grants.iter().collect::<Vec<_>>(), [&Grant::Tcp { host: "xn--bcher-kva.example".into(), port: 7000 }]);
    let e = db.endpoint.as_ref().unwrap();
    assert_eq!(
        (e.scheme.as_str(), e.user.as_deref(), e.host.as_str(), e.port),
        ("store", Some("app"), "xn--bcher-kva.example", Some(7000))
    );
    assert_eq!((e.path.as_str(), e.query.as_slice()), ("data", &[("mode".to_string(), "ro".to_string())][..]));
    assert_eq!(db.secrets.scrub("pw s3cret"), "pw ***", "the URL's password is a secret");
    assert_eq!(plan.checks[1].grants.iter().collect::<Vec<_>>(), [&Grant::Disk("/var/lib".into())]);
    assert!(plan.checks[1].endpoint.is_none());

    let f = file(
        "[[check]]\nname = \"a\"\nplugin = \"store\"\ntarget = \"localhost:7000\"\n\n\
         [[check]]\nname = \"b\"\nplugin = \"store\"\ntarget = \"store://localhost\"\n",
    );
    let errors = load(f.path(), &Fake).await.unwrap_err().to_string();
    assert!(
        errors.contains(
            ":4:10: check \"a\", field `target`: \"localhost:7000\" is not a store:// URL or an absolute path such as \"/\" or \"/var\"; write e.g. \"store://app@localhost/data\""
        ),
        "{errors}"
    );
    assert!(errors.contains(":9:10: check \"b\", field `target`: \"store://localhost\" names no user"), "{errors}");
}

#[tokio::test]
async fn a_declared_forecast_is_the_default_and_a_check_may_replace_it() {
    let f = file(
        "[[check]]\nname = \"a\"\nplugin = \"store\"\ntarget = \"/\"\nthresholds = { days_until_full = { warn = \"30d\" } }\n\n\
         [[check]]\nname = \"b\"\nplugin = \"store\"\ntarget = \"/\"\n\
         forecast = { days_until_full = { metric = \"used\", reaches = \"90%\", window = \"1d\" } }\n",
    );
    let plan = load(f.path(), &Fake).await.unwrap();
    let a = &plan.checks[0].forecasts;
    assert_eq!(a.len(), 1);
    assert_eq!(
        (a[0].name.as_str(), a[0].metric.as_str(), a[0].reaches, a[0].reaches_text.as_str()),
        ("days_until_full", "used", 100.0, "100%")
    );
    assert_eq!(a[0].window, Duration::from_secs(7 * 86400));
    let b = &plan.checks[1].forecasts;
    assert_eq!((b.len(), b[0].reaches, b[0].window), (1, 90.0, Duration::from_secs(86400)));
    // A plugin that declares none gives none.
    let f = file("[[check]]\nname = \"p\"\nplugin = \"probe\"\ntarget = \"/\"\n");
    assert!(load(f.path(), &Fake).await.unwrap().checks[0].forecasts.is_empty());
}

#[tokio::test]
async fn every_param_kind_is_checked_and_durations_and_sizes_arrive_parsed() {
    let f = file(
        "[[check]]\nname = \"ok\"\nplugin = \"store\"\ntarget = \"/\"\n\
         a_string = \"s\"\na_integer = 3\na_number = 1.5\na_bool = true\na_duration = \"1.5s\"\na_size = \"64MiB\"\n\
         a_list = [1]\na_table = { x = 1 }\na_secret = \"hunter2\"\na_any = [\"x\"]\n",
    );
    let plan = load(f.path(), &Fake).await.unwrap();
    let params: serde_json::Value = serde_json::from_str(&plan.checks[0].params).unwrap();
    assert_eq!(params["a_duration"], 1500);
    assert_eq!(params["a_size"], 64 << 20);
    assert_eq!(params["a_secret"], "hunter2");
    assert_eq!(params["a_any"], serde_json::json!(["x"]));
    assert_eq!(plan.checks[0].secrets.scrub("hunter2"), "***");

    let f = file(
        "[[check]]\nname = \"bad\"\nplugin = \"store\"\ntarget = \"/\"\n\
         a_string = 1\na_integer = 1.5\na_number = \"1\"\na_bool = 1\na_duration = \"5\"\na_size = \"1s\"\n\
         a_list = 1\na_table = 1\na_secret = 1\n",
    );
    let errors = load(f.path(), &Fake).await.unwrap_err().to_string();
    for expected in [
        "field `a_string`: expected string, found an integer",
        "field `a_integer`: expected integer, found a number",
        "field `a_number`: expected number, found a string",
        "field `a_bool`: expected bool, found an integer",
        "field `a_duration`: \"5\" has no unit",
        "field `a_size`: \"1s\" is not a size",
        "field `a_list`: expected list, found an integer",
        "field `a_table`: expected table, found an integer",
        "field `a_secret`: expected secret, found an integer",
    ] {
        assert!(errors.contains(expected), "{expected} in {errors}");
    }
    let f = file("[[check]]\nname = \"sub\"\nplugin = \"store\"\ntarget = \"/\"\na_duration = \"500us\"\n");
    let errors = load(f.path(), &Fake).await.unwrap_err().to_string();
    assert!(errors.contains("\"500us\" is not a whole number of milliseconds"), "{errors}");
}

#[tokio::test]
async fn flapping_and_recovery_keys_are_read_and_the_old_flap_keys_say_what_replaced_them() {
    let f = file(
        "[[check]]\nname = \"queue\"\nplugin = \"probe\"\ntarget = \"http://localhost:8080/\"\n\
         alert = { flap_history = 20, flap_start = 40, flap_stop = 10 }\n\
         recover = { run = [\"docker\", \"restart\", \"q\"], env = { DOCKER_HOST = \"unix:///run/d.sock\", TOKEN = { env = \"PATH\" } }, \
         inherit_env = [\"HOME\"], notify = \"after_failure\" }\n",
    );
    let plan = load(f.path(), &Fake).await.unwrap();
    let c = &plan.checks[0];
    assert_eq!((c.alert.flap_history, c.alert.flap_start, c.alert.flap_stop), (20, 40, 10));
    let r = c.recover.as_ref().unwrap();
    assert_eq!(r.notify, picket_core::recovery::RecoverNotify::AfterFailure);
    assert_eq!(r.inherit_env, ["HOME"]);
    assert_eq!(r.env[0].name, "DOCKER_HOST");
    assert!(!r.env[0].secret);
    assert!(r.env[1].secret && !r.env[1].value.is_empty());
    // A value read from a secret reference is scrubbed from what the check reports.
    assert_eq!(c.secrets.scrub(&format!("token {}", r.env[1].value)), "token ***");

    let f = file(
        "[[check]]\nname = \"queue\"\nplugin = \"probe\"\ntarget = \"http://localhost:8080/\"\n\
         alert = { flap_changes = 6, flap_start = 20, flap_stop = 30 }\n\
         recover = { run = [\"true\"], notify = \"later\", env = { \"1X\" = \"y\" } }\n",
    );
    let errors = load(f.path(), &Fake).await.unwrap_err().to_string();
    assert!(
        errors.contains(":5:11: check \"queue\", field `alert.flap_changes`: replaced by `flap_history`, `flap_start` and `flap_stop`"),
        "{errors}"
    );
    assert!(errors.contains("flap_stop (30) must be below flap_start (20)"), "{errors}");
    assert!(errors.contains("field `recover.notify`: expected \"always\" (page at once) or \"after_failure\""), "{errors}");
    assert!(errors.contains("\"1X\" is not a name picket can set"), "{errors}");
}

/// `check "api"` with `extra` lines after its target (line 4), loaded against the fake.
async fn probe(extra: &str) -> Result<Plan, ConfigErrors> {
    let f = file(&format!("[[check]]\nname = \"api\"\nplugin = \"probe\"\ntarget = \"http://localhost:8080/\"\n{extra}"));
    load(f.path(), &Fake).await
}

#[tokio::test]
async fn a_typo_inside_a_shaped_table_is_an_error_at_the_key_with_a_suggestion() {
    let errors = probe("expect = { stauts = 200 }\n").await.unwrap_err().to_string();
    assert!(
        errors.ends_with(
            ":5:12: check \"api\", field `expect.stauts`: unknown key; did you mean `status`? (expect takes status, body, json, retry)"
        ),
        "{errors}"
    );
    let errors = probe("expect = { retry = { evry = \"5s\" } }\n").await.unwrap_err().to_string();
    assert!(errors.contains(":5:22: check \"api\", field `expect.retry.evry`: unknown key; did you mean `every`?"), "{errors}");
    // The table is then missing its required key, said at the table.
    assert!(errors.contains(":5:20: check \"api\", field `expect.retry`: missing the required key `every` (the every)"), "{errors}");
}

#[tokio::test]
async fn a_wrong_kind_inside_a_shaped_table_is_an_error_at_the_value() {
    let errors = probe("expect = { status = \"200\" }\n").await.unwrap_err().to_string();
    assert!(
        errors.ends_with(":5:21: check \"api\", field `expect.status`: expected an integer, found a string; write 200 without quotes"),
        "{errors}"
    );
    let errors = probe("expect = { status = \"2yy\", body = 3 }\n").await.unwrap_err().to_string();
    assert!(
        errors.contains(":5:21: check \"api\", field `expect.status`: \"2yy\" is not a status class (\"2xx\") or range (\"200-399\")"),
        "{errors}"
    );
    assert!(errors.contains(":5:35: check \"api\", field `expect.body`: expected a string, found an integer"), "{errors}");
    let errors = probe("expect = { status = [200, true], retry = { every = \"5 mins\" } }\n").await.unwrap_err().to_string();
    assert!(
        errors.contains(":5:27: check \"api\", field `expect.status[1]`: expected an integer or a string, found a boolean"),
        "{errors}"
    );
    assert!(errors.contains("field `expect.retry.every`: "), "{errors}");
    let errors =
        probe("expect = { status = 1.5 }\nheaders = { X-Token = 1, \"a b\" = \"c\" }\nmode = \"requre\"\n").await.unwrap_err().to_string();
    assert!(errors.contains("field `expect.status`: expected an integer, a string or an array, found a number"), "{errors}");
    assert!(errors.contains(":6:23: check \"api\", field `headers.X-Token`: expected a string, found an integer"), "{errors}");
    assert!(
        errors.contains(":7:8: check \"api\", field `mode`: unknown value \"requre\"; did you mean `require`? (one of disable, require)"),
        "{errors}"
    );
    assert!(!errors.contains("a b"), "a quoted key with a string is fine: {errors}");
}

#[tokio::test]
async fn what_fits_the_shape_arrives_as_json_with_durations_and_sizes_parsed_at_any_depth() {
    let plan = probe(
        "expect = { status = [200, \"3xx\"], json = { \"checks.db\" = \"up\", nested = { any = [1, true] } }, \
         retry = { every = \"1.5s\", max_body = \"1KiB\" } }\nheaders = { Accept = \"text/plain\" }\nmode = \"require\"\n",
    )
    .await
    .unwrap();
    let params: serde_json::Value = serde_json::from_str(&plan.checks[0].params).unwrap();
    assert_eq!(
        params,
        serde_json::json!({
            "expect": {
                "status": [200, "3xx"],
                "json": { "checks.db": "up", "nested": { "any": [1, true] } },
                "retry": { "every": 1500, "max_body": 1024 },
            },
            "headers": { "Accept": "text/plain" },
            "mode": "require",
        })
    );
}

#[tokio::test]
async fn a_param_without_a_shape_is_checked_by_its_kind_only() {
    let f = file("[[check]]\nname = \"s\"\nplugin = \"store\"\ntarget = \"/\"\na_table = { stauts = \"200\", deep = { x = [1] } }\n");
    let plan = load(f.path(), &Fake).await.unwrap();
    assert_eq!(plan.checks[0].params, r#"{"a_table":{"stauts":"200","deep":{"x":[1]}}}"#);
}

#[tokio::test]
async fn missing_chooses_the_status_for_an_unreported_metric_and_defaults_by_kind_of_metric() {
    let plan = probe("thresholds = { latency = { warn = \"1s\" }, cert_days = { crit = \"7\", missing = \"warning\" } }\n").await.unwrap();
    let th = &plan.checks[0].thresholds;
    assert_eq!((th[0].metric.as_str(), th[0].missing), ("latency", Status::Unknown));
    assert_eq!((th[1].metric.as_str(), th[1].missing), ("cert_days", Status::Warning));
    let f = file(
        "[[check]]\nname = \"s\"\nplugin = \"store\"\ntarget = \"/\"\nthresholds = { days_until_full = { warn = \"30d\" }, used = { missing = \"critical\" } }\n",
    );
    let plan = load(f.path(), &Fake).await.unwrap();
    let th = &plan.checks[0].thresholds;
    assert_eq!(th[0].missing, Status::Ok, "no forecast value means no trend toward the limit");
    assert_eq!(
        (th[1].missing, th[1].warn.is_none() && th[1].crit.is_none()),
        (Status::Critical, true),
        "missing alone requires the metric"
    );

    let errors = probe("thresholds = { latency = { warn = \"1s\", missing = \"warn\" }, cert_days = { mising = \"ok\" } }\n")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains(
            ":5:51: check \"api\", field `thresholds.latency.missing`: expected one of \"ok\", \"unknown\", \"warning\", \"critical\"; did you mean `warning`?"
        ),
        "{errors}"
    );
    assert!(errors.contains("unknown field `thresholds.cert_days.mising`; did you mean `missing`?"), "{errors}");
    assert_ne!(
        probe("thresholds = { latency = { warn = \"1s\" } }\n").await.unwrap().checks[0].fingerprint,
        probe("thresholds = { latency = { warn = \"1s\", missing = \"ok\" } }\n").await.unwrap().checks[0].fingerprint,
        "missing changes how the check is judged"
    );
}

#[tokio::test]
async fn a_threshold_on_a_metric_the_plugin_does_not_list_is_a_warning_at_the_metric() {
    let plan = probe("thresholds = { latncy = { warn = \"1s\" } }\n").await.unwrap();
    assert_eq!(plan.checks[0].thresholds.len(), 1, "it still applies if a run reports it");
    let warnings: Vec<String> = plan.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].ends_with(
            ":5:16: warning: check \"api\", field `thresholds`: plugin does not list a metric `latncy`; did you mean `latency`? \
             (it reports latency, cert_days); a run without it is unknown (missing = \"unknown\")"
        ),
        "{warnings:?}"
    );
    // With an error in the same file, the warning comes along, in file order.
    let errors = probe("thresholds = { latncy = { warn = \"1s\" } }\nexpect = { stauts = 200 }\n").await.unwrap_err();
    assert_eq!((errors.errors.len(), errors.warnings.len()), (1, 1));
    let text = errors.to_string();
    assert!(text.find("warning: ").unwrap() < text.find("unknown key").unwrap(), "{text}");
}
