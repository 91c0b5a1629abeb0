//! Check files → a validated [`Plan`].
//!
//! A check file (or every `*.toml` in a directory, in name order) holds an optional
//! `[defaults]` table that applies to the checks in that file, and `[[check]]` tables:
//!
//! ```toml
//! [defaults]
//! timeout = "5s"          # wall-clock budget per run
//! memory = "64MiB"        # plugin memory cap
//!
//! [[check]]
//! name = "mech-queue"
//! plugin = "http"                              # a built-in, or a path to a .wasm
//! target = "http://localhost:3003/health"      # also the check's grant
//! expect = { status = 200, json = { status = "healthy" } }   # plugin params
//! thresholds = { response_time = { warn = "1s", crit = "3s" } }
//! ```
//!
//! Any key that is not one of the check's own keys is a plugin param, validated against
//! the plugin's `describe()`. Architecture Invariant: everything downstream of [`load`]
//! takes the [`Plan`] as valid and never re-parses or re-validates.
//!
//! Config is data: it learns about plugins and notification providers only through a
//! [`Catalog`], so it never compiles wasm or builds a provider, and it must never depend on
//! the sandbox, store, notify or daemon crates (its `Cargo.toml` lists only the core). A
//! [`CheckSpec`] names its plugin by sha256; the runner finds the compiled component.

pub mod catalog;
mod check;
mod daemon;
mod doc;
mod error;
mod notify;
mod params;
mod policy;
mod shape;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use catalog::{Catalog, Described, PluginRef};
pub use daemon::{DEFAULT_CONCURRENCY, DEFAULT_LISTEN, DaemonSettings};
pub use error::{ConfigError, ConfigErrors, ConfigWarning, in_file_order, suggestion};
pub use policy::{AlertPolicy, ForecastSpec};

use picket_core::grants::{Grants, Limits, TlsOptions};
use picket_core::result::Failure;
use picket_core::schedule::Schedule;
use picket_core::target::Endpoint;
use picket_core::threshold::Threshold;

/// Everything to run, validated.
#[derive(Debug, Clone)]
pub struct Plan {
    pub checks: Vec<Arc<CheckSpec>>,
    pub files: Vec<PathBuf>,
    pub daemon: DaemonSettings,
    /// Channels, routes and maintenance windows.
    pub notify: Arc<picket_core::notify::router::NotifyPlan>,
    /// What loads but probably does not do what was meant, in file order.
    pub warnings: Vec<ConfigWarning>,
}

/// One check, ready to run.
pub struct CheckSpec {
    pub name: String,
    /// Where it was declared, for messages.
    pub file: PathBuf,
    pub line: usize,
    /// As written in the file: a built-in name or a path.
    pub plugin_name: String,
    /// The loaded plugin, or why it could not be used (sha256 mismatch, missing export):
    /// such a check still runs, and reports that failure as its result.
    pub plugin: Result<Described, Failure>,
    pub target: String,
    /// `target` parsed against the plugin's declared shapes (a URL or `host:port`), as the
    /// plugin receives it; `None` for a path.
    pub endpoint: Option<Endpoint>,
    /// The plugin's params as a JSON object: secrets resolved, durations in milliseconds,
    /// sizes in bytes.
    pub params: String,
    pub thresholds: Vec<Threshold>,
    pub limits: Limits,
    pub grants: Arc<Grants>,
    pub tls: TlsOptions,
    /// Resolved secret values (passwords), scrubbed from every result.
    pub secrets: Secrets,
    pub description: Option<String>,
    /// When `picket run` runs it; `picket check` ignores this and the keys below.
    pub schedule: Schedule,
    /// How often it is re-checked while pending.
    pub retry_every: Duration,
    pub alert: AlertPolicy,
    /// `alert.route`: the route for all its notifications (else by severity).
    pub route: Option<String>,
    /// A link for whoever is paged.
    pub runbook: Option<String>,
    /// What to do when its incident opens.
    pub recover: Option<picket_core::recovery::RecoverSpec>,
    /// Checks whose failure inhibits this one's incidents; all exist, no cycles.
    pub depends_on: Vec<String>,
    /// Derived metrics, computed from history by the daemon.
    pub forecasts: Vec<ForecastSpec>,
    /// A hash of everything the check runs with: equal means a reload left it unchanged.
    pub fingerprint: String,
}

// By hand: `params` holds resolved secrets and must never reach a log.
impl std::fmt::Debug for CheckSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckSpec")
            .field("name", &self.name)
            .field("file", &self.file)
            .field("line", &self.line)
            .field("plugin", &self.plugin_name)
            .field("target", &self.secrets.scrub(&self.target))
            .field("limits", &self.limits)
            .field("grants", &self.grants)
            .field("schedule", &self.schedule.describe())
            .finish_non_exhaustive()
    }
}

/// Secret values of one check. Architecture Invariant: every result is passed through
/// [`Secrets::scrub`] before anyone sees it, whatever the plugin put in it.
#[derive(Clone, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    pub fn new(mut values: Vec<String>) -> Secrets {
        values.retain(|v| !v.is_empty());
        // Longest first, so a secret containing another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Secrets(values)
    }

    /// `text` with every secret replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.0 {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }

    pub fn scrub_result(&self, r: &mut picket_core::result::CheckResult) {
        if self.0.is_empty() {
            return;
        }
        r.summary = self.scrub(&r.summary);
        r.target = self.scrub(&r.target);
        if let Some(d) = &r.diagnostics {
            r.diagnostics = Some(self.scrub(d));
        }
        for m in &mut r.metrics {
            m.name = self.scrub(&m.name);
        }
        if let Some(f) = &r.failure {
            r.failure = Some(f.map_text(|t| self.scrub(t)));
        }
    }
}

impl CheckSpec {
    /// A hash of everything the check runs with: equal means a reload left it unchanged
    /// (it keeps its place in the schedule). Built from typed values, not `Debug` text;
    /// the destructuring names every field, so a new one does not compile until it is
    /// placed here or among the ones that do not change how the check runs.
    pub fn compute_fingerprint(&self) -> String {
        let CheckSpec {
            // Presentation and bookkeeping: how the check reads, not how it runs.
            name: _,
            file: _,
            line: _,
            description: _,
            plugin_name: _,
            fingerprint: _,
            // Resolved secrets are inside `params` and the target already.
            secrets: _,
            // Parsed from `target` and the plugin's declared shapes, both hashed below.
            endpoint: _,
            plugin,
            target,
            params,
            thresholds,
            limits,
            grants,
            tls,
            schedule,
            retry_every,
            alert,
            route,
            runbook,
            recover,
            depends_on,
            forecasts,
        } = self;
        let ms = |d: &Duration| d.as_millis() as u64;
        let level = |l: &Option<(picket_core::threshold::Range, String)>| l.as_ref().map(|(_, text)| text.clone());
        let runs = serde_json::json!({
            "plugin": plugin.as_ref().map(|p| p.sha256.clone()).map_err(|f| f.to_string()),
            "target": target,
            "params": params,
            "thresholds": thresholds.iter().map(|t| (&t.metric, level(&t.warn), level(&t.crit), t.missing.as_str())).collect::<Vec<_>>(),
            "limits": [ms(&limits.timeout), limits.memory, limits.output as u64],
            "grants": grants.to_string(),
            "tls": [tls.ca_file.as_ref().map(|p| p.display().to_string()), Some(tls.insecure.to_string())],
            "schedule": schedule.describe(),
            "retry_every": ms(retry_every),
            "alert": [alert.after, alert.resolve_after, alert.flap_history, u32::from(alert.flap_start), u32::from(alert.flap_stop)],
            "route": route,
            "runbook": runbook,
            "recover": recover.as_ref().map(|r| {
                let action = match &r.action {
                    picket_core::recovery::Action::Run { argv, dir } => serde_json::json!({ "run": argv, "dir": dir }),
                    picket_core::recovery::Action::Http { url, method, body } => {
                        serde_json::json!({ "http": url.as_str(), "method": method, "body": body })
                    }
                };
                let env: Vec<(&str, &str)> = r.env.iter().map(|e| (e.name.as_str(), e.value.as_str())).collect();
                serde_json::json!({
                    "action": action,
                    "timing": [ms(&r.recheck_after), ms(&r.within), ms(&r.timeout), r.max as u64],
                    "env": env,
                    "inherit_env": r.inherit_env,
                    "notify": r.notify.as_str(),
                    "route": r.route,
                })
            }),
            "depends_on": depends_on,
            "forecasts": forecasts.iter().map(|f| (&f.name, &f.metric, f.reaches, ms(&f.window))).collect::<Vec<_>>(),
        });
        picket_core::text::sha256_hex(runs.to_string().as_bytes())
    }

    /// A check with no plugin, for exercising the scheduler and state machine without a
    /// sandbox (its result is whatever the caller makes of [`CheckSpec::synthetic_result`]).
    #[doc(hidden)]
    pub fn synthetic(name: &str, schedule: Schedule) -> CheckSpec {
        CheckSpec {
            name: name.to_string(),
            file: PathBuf::from("synthetic.toml"),
            line: 1,
            plugin_name: "synthetic".into(),
            plugin: Err(Failure::Load("synthetic check".into())),
            target: String::new(),
            endpoint: None,
            params: "{}".into(),
            thresholds: Vec::new(),
            limits: Limits::default(),
            grants: Arc::new(Grants::default()),
            tls: TlsOptions::default(),
            secrets: Secrets::default(),
            description: None,
            retry_every: Duration::from_secs(10),
            schedule,
            alert: AlertPolicy::default(),
            route: None,
            runbook: None,
            recover: None,
            depends_on: Vec::new(),
            forecasts: Vec::new(),
            fingerprint: picket_core::text::sha256_hex(name.as_bytes()),
        }
    }

    #[doc(hidden)]
    pub fn synthetic_result(&self) -> picket_core::result::CheckResult {
        picket_core::result::CheckResult {
            name: self.name.clone(),
            plugin: self.plugin_name.clone(),
            target: self.target.clone(),
            status: picket_core::result::Status::Ok,
            summary: "synthetic".into(),
            duration: Duration::ZERO,
            metrics: Vec::new(),
            diagnostics: None,
            failure: None,
            attempts: 1,
        }
    }

    /// When the plugin reports `metric` only under some condition, that condition ("for
    /// https targets"), per its describe info.
    pub fn reported_only(&self, metric: &str) -> Option<&str> {
        self.plugin.as_ref().ok()?.info.metric(metric)?.when.as_deref()
    }

    /// Whether smaller values of `metric` are worse, per the plugin's describe info.
    /// A forecast (time left) is lower-is-worse too.
    pub fn lower_is_worse(&self, metric: &str) -> bool {
        if self.forecasts.iter().any(|f| f.name == metric) {
            return true;
        }
        match &self.plugin {
            Ok(p) => p.info.metric(metric).is_some_and(|m| m.lower_is_worse),
            Err(_) => false,
        }
    }
}

impl Plan {
    /// Keeps only the named checks; an unknown name is an error naming the closest one.
    pub fn only(mut self, names: &[String]) -> Result<Plan, String> {
        if names.is_empty() {
            return Ok(self);
        }
        for n in names {
            if !self.checks.iter().any(|c| &c.name == n) {
                let hint = error::suggestion(n, self.checks.iter().map(|c| c.name.as_str()));
                return Err(format!("--only: no check named {n:?}{hint}"));
            }
        }
        self.checks.retain(|c| names.contains(&c.name));
        Ok(self)
    }

    /// Checks whose plugin could not be loaded, as config errors (for `picket validate`).
    pub fn plugin_problems(&self) -> Vec<ConfigError> {
        self.checks
            .iter()
            .filter_map(|c| {
                let f = c.plugin.as_ref().err()?;
                Some(ConfigError {
                    file: c.file.clone(),
                    line: c.line,
                    column: 1,
                    message: format!("check {:?}, field `plugin`: {f}", c.name),
                })
            })
            .collect()
    }
}

/// Reads a check file, or every `*.toml` directly inside a directory.
pub async fn load<C: Catalog>(path: &Path, catalog: &C) -> Result<Plan, ConfigErrors> {
    let one = |message: String| ConfigErrors::new(vec![ConfigError { file: path.to_path_buf(), line: 0, column: 0, message }]);
    let meta = std::fs::metadata(path).map_err(|e| one(format!("cannot read: {e}")))?;
    let files = if meta.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| one(format!("cannot list directory: {e}")))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(one("no *.toml check files in this directory".into()));
        }
        files
    } else {
        vec![path.to_path_buf()]
    };

    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut checks: Vec<Arc<CheckSpec>> = Vec::new();
    let mut settings: Option<DaemonSettings> = None;
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut notify_parts = Vec::new();
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                errors.push(ConfigError { file: file.clone(), line: 0, column: 0, message: format!("cannot read: {e}") });
                continue;
            }
        };
        let contents = check::load_file(file, &text, catalog).await;
        errors.extend(contents.errors);
        warnings.extend(contents.warnings);
        notify_parts.push(contents.notify);
        if let Some(d) = contents.daemon {
            match &settings {
                Some(first) => {
                    let (f, l) = first.declared_at.clone().unwrap_or_default();
                    let (_, line) = d.declared_at.clone().unwrap_or_default();
                    errors.push(ConfigError {
                        file: file.clone(),
                        line,
                        column: 1,
                        message: format!("[daemon] may appear in one file only; first declared at {}:{l}", f.display()),
                    });
                }
                None => settings = Some(d),
            }
        }
        for c in contents.checks {
            if let Some(first) = seen.get(&c.name).map(|&i| &checks[i]) {
                errors.push(ConfigError {
                    file: c.file.clone(),
                    line: c.line,
                    column: 1,
                    message: format!(
                        "check {:?}, field `name`: duplicate check name; first declared at {}:{}",
                        c.name,
                        first.file.display(),
                        first.line
                    ),
                });
                continue;
            }
            seen.insert(c.name.clone(), checks.len());
            checks.push(Arc::new(c));
        }
    }
    errors.extend(dependency_problems(&checks));
    let check_routes: Vec<notify::RouteRef> = checks
        .iter()
        .flat_map(|c| {
            let own = c.route.clone().map(|r| ("alert.route", r));
            let recovered = c.recover.as_ref().and_then(|r| r.route.clone()).map(|r| ("recover.route", r));
            own.into_iter().chain(recovered).map(|(field, route)| notify::RouteRef {
                file: c.file.clone(),
                line: c.line,
                check: c.name.clone(),
                field,
                route,
            })
        })
        .collect();
    let notify = match notify::assemble(notify_parts, &check_routes) {
        Ok(p) => p,
        Err(e) => {
            errors.extend(e);
            Default::default()
        }
    };
    if errors.is_empty() && checks.is_empty() {
        errors.push(ConfigError { file: path.to_path_buf(), line: 0, column: 0, message: "no [[check]] tables found".into() });
    }
    // File order, then position: the order a person reads the files in.
    let order = |e: &ConfigError| files.iter().position(|f| *f == e.file).unwrap_or(usize::MAX);
    warnings.sort_by_key(|w: &ConfigWarning| (order(&w.0), w.0.line, w.0.column));
    if !errors.is_empty() {
        errors.sort_by_key(|e| (order(e), e.line, e.column));
        return Err(ConfigErrors { errors, warnings });
    }
    Ok(Plan { checks, files, daemon: settings.unwrap_or_default(), notify: Arc::new(notify), warnings })
}

/// `depends_on` names that do not exist, and cycles (which would inhibit each other forever).
fn dependency_problems(checks: &[Arc<CheckSpec>]) -> Vec<ConfigError> {
    let at = |c: &CheckSpec, message: String| ConfigError { file: c.file.clone(), line: c.line, column: 1, message };
    let mut errors = Vec::new();
    let by_name: std::collections::HashMap<&str, &Arc<CheckSpec>> = checks.iter().map(|c| (c.name.as_str(), c)).collect();
    let find = |name: &str| by_name.get(name).copied();
    for c in checks {
        for d in &c.depends_on {
            if d == &c.name {
                errors.push(at(c, format!("check {:?}, field `depends_on`: a check cannot depend on itself", c.name)));
            } else if find(d).is_none() {
                let hint = error::suggestion(d, checks.iter().map(|c| c.name.as_str()));
                errors.push(at(c, format!("check {:?}, field `depends_on`: no check named {d:?}{hint}", c.name)));
            }
        }
    }
    if !errors.is_empty() {
        return errors;
    }
    // Depth-first search for a cycle, reported once at the first check on it.
    type ByName<'a> = std::collections::HashMap<&'a str, &'a Arc<CheckSpec>>;
    fn visit<'a>(
        name: &'a str,
        checks: &ByName<'a>,
        path: &mut Vec<&'a str>,
        done: &mut std::collections::HashSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| *p == name) {
            let mut cycle: Vec<String> = path[i..].iter().map(|s| s.to_string()).collect();
            cycle.push(name.to_string());
            return Some(cycle);
        }
        if done.contains(name) {
            return None;
        }
        path.push(name);
        let c = *checks.get(name)?;
        for d in &c.depends_on {
            if let Some(cycle) = visit(d, checks, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(name);
        None
    }
    let mut done = std::collections::HashSet::new();
    for c in checks {
        if let Some(cycle) = visit(&c.name, &by_name, &mut Vec::new(), &mut done) {
            let first = find(&cycle[0]).unwrap_or(c);
            errors.push(at(first, format!("check {:?}, field `depends_on`: dependency cycle {}", first.name, cycle.join(" → "))));
            break;
        }
    }
    errors
}

#[cfg(test)]
mod tests;
