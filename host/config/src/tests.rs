//! Config against a fake catalog: check files validated without a wasm engine.

use picket_core::notify::{Channel, FieldError, Fields, RetryPolicy};
use picket_core::plugin::{MetricInfo, ParamInfo, PluginInfo};
use picket_core::result::Failure;

use super::*;

/// One built-in, `probe`, with a `path` param and a `latency` metric; channels of kind
/// `pager` need a `key`.
struct Fake;

impl Catalog for Fake {
    fn builtins(&self) -> Vec<String> {
        vec!["probe".into()]
    }

    async fn plugin(&self, plugin: PluginRef<'_>) -> Option<Result<Described, Failure>> {
        match plugin {
            PluginRef::Builtin("probe") => Some(Ok(Described {
                sha256: "ab".repeat(32),
                info: PluginInfo {
                    name: "probe".into(),
                    version: "1".into(),
                    description: String::new(),
                    params: vec![ParamInfo { name: "path".into(), kind: "string".into(), required: false, description: String::new() }],
                    metrics: vec![MetricInfo {
                        name: "latency".into(),
                        unit: "s".into(),
                        description: String::new(),
                        lower_is_worse: false,
                    }],
                },
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
        "runbook = \"https://wiki.example.com/api\"\n",
    ] {
        assert_ne!(fingerprint(changed).await, base, "{changed}");
    }
}
