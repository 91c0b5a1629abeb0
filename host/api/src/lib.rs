//! The daemon's HTTP API (axum), bound to 127.0.0.1 by default:
//!
//! | route | what |
//! |---|---|
//! | `GET /metrics` | Prometheus exposition (rendered by the daemon) |
//! | `GET /healthz` | the daemon itself: 200 while it runs |
//! | `GET /api/v1/checks` | every check's current state |
//! | `GET /api/v1/checks/{name}` | one check |
//! | `GET /api/v1/checks/{name}/results?since=1h&limit=100` | raw history, newest first |
//! | `GET /api/v1/checks/{name}/rollups?since=30d` | hourly min/avg/max/p95 per metric |
//! | `GET /api/v1/checks/{name}/forecast?metric=used&window=7d&reaches=100` | least-squares trend of any metric; days until it reaches a value |
//! | `GET /api/v1/incidents?open=true` | incidents, newest first |
//! | `GET /api/v1/status` | config files, last reload and its errors |
//! | `POST /api/v1/reload` | reload the check files (as SIGHUP does) |
//! | `GET /api/v1/notifications?state=pending&limit=100` | the outbox, newest first: pending, delivered, failed, suppressed (with why) |
//! | `GET /api/v1/recoveries?check=NAME` | recovery attempts, their output and outcome |
//! | `GET /api/v1/silences` | silences in force |
//! | `POST /api/v1/silences` | `{"check": "app-*", "for": "1h", "reason": "deploy", "by": "alice"}` |
//! | `DELETE /api/v1/silences/{id}` | end a silence now |
//! | `POST /api/v1/checks/{name}/recovery/reset` | forget the check's recovery attempts: its budget is whole again |
//!
//! `since` is a duration back from now (`15m`, `24h`, `7d`), an RFC 3339 time, or
//! milliseconds since the epoch.
//!
//! The API knows the daemon only through [`Handle`]: it reads history from the store and
//! the journal itself, and asks the handle for the live view, `/metrics`, reloads and to
//! hear about silence changes. Request and response types ([`types`]) are shared with the
//! CLI. It must never depend on the daemon, config, the sandbox or notify crates.

pub mod handle;
pub mod types;

pub use handle::Handle;
pub use types::{CheckView, NewSilence, ReloadOutcome};

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use picket_store::Store;
use picket_store::journal::{Journal, OutboxState};

type Daemon = dyn Handle;

pub fn router(daemon: Arc<Daemon>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_page))
        .route("/healthz", get(healthz))
        .route("/api/v1/checks", get(list_checks))
        .route("/api/v1/checks/{name}", get(one_check))
        .route("/api/v1/checks/{name}/results", get(results))
        .route("/api/v1/checks/{name}/rollups", get(rollups))
        .route("/api/v1/checks/{name}/forecast", get(forecast))
        .route("/api/v1/incidents", get(incidents))
        .route("/api/v1/status", get(status))
        .route("/api/v1/reload", post(reload))
        .route("/api/v1/notifications", get(notifications))
        .route("/api/v1/recoveries", get(recoveries))
        .route("/api/v1/silences", get(silences).post(add_silence))
        .route("/api/v1/silences/{id}", delete(end_silence))
        .route("/api/v1/checks/{name}/recovery/reset", post(reset_recovery))
        .with_state(daemon)
}

/// An error as JSON: `{"error": "…"}`.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

async fn metrics_page(State(d): State<Arc<Daemon>>) -> Response {
    // Rendered on a blocking thread (it takes the check lock in turns) and streamed.
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(2);
    tokio::task::spawn_blocking(move || {
        d.render_metrics(&mut |chunk| {
            // The scraper went away: the rest is not needed.
            let _ = tx.blocking_send(chunk);
        })
    });
    let stream =
        futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), rx)) },
        );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], axum::body::Body::from_stream(stream)).into_response()
}

async fn healthz(State(d): State<Arc<Daemon>>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "checks": d.check_names().len(),
        "uptime_s": (chrono::Utc::now() - d.started()).num_seconds(),
        "config_ok": d.config_ok(),
    }))
}

async fn list_checks(State(d): State<Arc<Daemon>>) -> Json<serde_json::Value> {
    Json(json!({ "checks": d.checks() }))
}

fn not_found(d: &Daemon, name: &str) -> ApiError {
    let names = d.check_names();
    let hint =
        picket_core::text::closest(name, names.iter().map(String::as_str)).map(|c| format!("; did you mean {c:?}?")).unwrap_or_default();
    ApiError(StatusCode::NOT_FOUND, format!("no check named {name:?}{hint}"))
}

async fn one_check(State(d): State<Arc<Daemon>>, Path(name): Path<String>) -> ApiResult<Json<CheckView>> {
    d.check(&name).map(Json).ok_or_else(|| not_found(&*d, &name))
}

#[derive(Deserialize)]
struct HistoryQuery {
    since: Option<String>,
    limit: Option<usize>,
}

/// `since` as milliseconds since the epoch.
fn parse_since(text: Option<&str>, default: std::time::Duration) -> ApiResult<i64> {
    let now = picket_store::now_ms();
    let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(now - default.as_millis() as i64) };
    if let Ok(d) = picket_core::units::parse_duration(t) {
        return Ok(now - d.as_millis() as i64);
    }
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(at.timestamp_millis());
    }
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    Err(ApiError(
        StatusCode::BAD_REQUEST,
        format!("since={t:?}: use a duration back from now (\"1h\"), an RFC 3339 time or epoch milliseconds"),
    ))
}

fn store(d: &Daemon) -> ApiResult<Arc<Store>> {
    d.store().ok_or_else(|| ApiError(StatusCode::SERVICE_UNAVAILABLE, "history is off (--no-store)".into()))
}

fn known(d: &Daemon, name: &str) -> ApiResult<()> {
    if d.check_names().iter().any(|n| n == name) { Ok(()) } else { Err(not_found(d, name)) }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, picket_store::StoreError> + Send + 'static) -> ApiResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        Err(e) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

async fn results(
    State(d): State<Arc<Daemon>>,
    Path(name): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    known(&*d, &name)?;
    let since = parse_since(q.since.as_deref(), std::time::Duration::from_secs(3600))?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let store = store(&*d)?;
    let n = name.clone();
    let rows = blocking(move || store.results(&n, since, limit)).await?;
    Ok(Json(json!({ "check": name, "since": picket_store::ms_to_rfc3339(since), "results": rows })))
}

async fn rollups(
    State(d): State<Arc<Daemon>>,
    Path(name): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    known(&*d, &name)?;
    let since = parse_since(q.since.as_deref(), std::time::Duration::from_secs(7 * 86400))?;
    let store = store(&*d)?;
    let n = name.clone();
    let rows = blocking(move || store.rollups(&n, since)).await?;
    Ok(Json(json!({ "check": name, "since": picket_store::ms_to_rfc3339(since), "rollups": rows })))
}

#[derive(Deserialize)]
struct ForecastQuery {
    metric: String,
    window: Option<String>,
    /// In the metric's own unit.
    reaches: Option<f64>,
}

async fn forecast(
    State(d): State<Arc<Daemon>>,
    Path(name): Path<String>,
    Query(q): Query<ForecastQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    known(&*d, &name)?;
    let window = match q.window.as_deref() {
        None => std::time::Duration::from_secs(7 * 86400),
        Some(w) => picket_core::units::parse_duration(w).map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("window: {e}")))?,
    };
    let now = picket_store::now_ms();
    let store = store(&*d)?;
    let (n, metric) = (name.clone(), q.metric.clone());
    let points = blocking(move || store.series(&n, &metric, now - window.as_millis() as i64)).await?;
    let Some(fit) = picket_core::forecast::least_squares(&points) else {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("not enough history of {:?} for a trend ({} points in the window)", q.metric, points.len()),
        ));
    };
    let now_s = (now - fit.t0_ms) as f64 / 1000.0;
    let days_until = q.reaches.and_then(|r| fit.seconds_until(r, now).map(|s| s / 86400.0));
    Ok(Json(json!({
        "check": name,
        "metric": q.metric,
        "window_s": window.as_secs(),
        "points": fit.points,
        "from": picket_store::ms_to_rfc3339(fit.t0_ms),
        "slope_per_day": fit.slope_per_s * 86400.0,
        "now": fit.intercept + fit.slope_per_s * now_s,
        "reaches": q.reaches,
        "days_until": days_until,
    })))
}

#[derive(Deserialize)]
struct IncidentQuery {
    open: Option<bool>,
    limit: Option<usize>,
}

async fn incidents(State(d): State<Arc<Daemon>>, Query(q): Query<IncidentQuery>) -> ApiResult<Json<serde_json::Value>> {
    let store = store(&*d)?;
    // Queued writes first, so an incident the API just showed as open is listed.
    let _ = store.flush().await;
    let (open, limit) = (q.open.unwrap_or(false), q.limit.unwrap_or(100).clamp(1, 10_000));
    let rows = blocking(move || store.incidents(open, limit)).await?;
    Ok(Json(json!({ "incidents": rows })))
}

async fn status(State(d): State<Arc<Daemon>>) -> Json<serde_json::Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "started": d.started(),
        "store": d.store().map(|s| s.path().display().to_string()),
        "config": d.config_status(),
    }))
}

async fn reload(State(d): State<Arc<Daemon>>) -> Response {
    let outcome = d.reload().await;
    let code = if outcome.ok { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    (code, Json(outcome)).into_response()
}

async fn journal<T: Send + 'static>(d: &Daemon, f: impl FnOnce(&Journal) -> rusqlite::Result<T> + Send + 'static) -> ApiResult<T> {
    let j = d.journal();
    match tokio::task::spawn_blocking(move || f(&j)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        Err(e) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

#[derive(Deserialize)]
struct NotificationQuery {
    state: Option<String>,
    limit: Option<usize>,
}

async fn notifications(State(d): State<Arc<Daemon>>, Query(q): Query<NotificationQuery>) -> ApiResult<Json<serde_json::Value>> {
    let state = q
        .state
        .as_deref()
        .map(|s| {
            s.parse::<OutboxState>()
                .map_err(|_| ApiError(StatusCode::BAD_REQUEST, format!("state={s:?}: use pending, delivered, failed or suppressed")))
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let (rows, counts) = journal(&*d, move |j| Ok((j.notifications(state, limit)?, j.counts()?))).await?;
    let rows: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|r| {
            let mut v = serde_json::to_value(&r).unwrap_or_default();
            v["notification"] = serde_json::from_str(&r.body).unwrap_or_default();
            v
        })
        .collect();
    Ok(Json(json!({
        "counts": { "pending": counts.pending, "delivered": counts.delivered, "failed": counts.failed, "suppressed": counts.suppressed },
        "notifications": rows,
    })))
}

#[derive(Deserialize)]
struct RecoveryQuery {
    check: Option<String>,
    limit: Option<usize>,
}

async fn recoveries(State(d): State<Arc<Daemon>>, Query(q): Query<RecoveryQuery>) -> ApiResult<Json<serde_json::Value>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let rows = journal(&*d, move |j| j.recoveries(q.check.as_deref(), limit)).await?;
    Ok(Json(json!({ "recoveries": rows })))
}

async fn silences(State(d): State<Arc<Daemon>>) -> ApiResult<Json<serde_json::Value>> {
    let rows = journal(&*d, |j| j.silences(picket_store::now_ms())).await?;
    Ok(Json(json!({ "silences": rows })))
}

async fn add_silence(
    State(d): State<Arc<Daemon>>,
    body: Result<Json<NewSilence>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Response> {
    let Json(s) = body.map_err(|e| {
        ApiError(StatusCode::BAD_REQUEST, format!("{e}; send {{\"check\": \"NAME or pattern\", \"for\": \"1h\", \"reason\": \"...\"}}"))
    })?;
    let d_for = picket_core::units::parse_duration(&s.duration).map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("for: {e}")))?;
    if d_for.is_zero() || d_for > std::time::Duration::from_secs(90 * 86400) {
        return Err(ApiError(StatusCode::BAD_REQUEST, "for: give a duration from 1s to 90d".into()));
    }
    if s.reason.trim().is_empty() {
        return Err(ApiError(StatusCode::BAD_REQUEST, "reason: say why (it is shown with every held notification)".into()));
    }
    // A name (not a pattern) must exist, so a typo does not silence nothing for an hour.
    if !s.check.contains('*') {
        known(&*d, &s.check)?;
    }
    let now = picket_store::now_ms();
    let by = s.by.clone().filter(|b| !b.trim().is_empty()).unwrap_or_else(|| "api".into());
    let until = now + d_for.as_millis() as i64;
    let (check, reason) = (s.check.clone(), s.reason.clone());
    let silence = journal(&*d, move |j| j.add_silence(&check, until, &reason, &by, now)).await?;
    tracing::info!(check = %silence.check, until = %silence.until, by = %silence.by, "silence added: {}", silence.reason);
    d.silences_changed();
    Ok((StatusCode::CREATED, Json(silence)).into_response())
}

async fn reset_recovery(State(d): State<Arc<Daemon>>, Path(name): Path<String>) -> ApiResult<Json<serde_json::Value>> {
    let check = d.check(&name).ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no check named {name:?}")))?;
    if check.recover.is_none() {
        return Err(ApiError(StatusCode::CONFLICT, format!("check {name:?} has no `recover` action")));
    }
    if !d.reset_recovery(&name).await {
        return Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, "the daemon is shutting down".into()));
    }
    tracing::info!(check = %name, "recovery budget reset through the API");
    Ok(Json(json!({ "reset": name, "recovery_budget": d.check(&name).and_then(|c| c.recovery_budget) })))
}

async fn end_silence(State(d): State<Arc<Daemon>>, Path(id): Path<i64>) -> ApiResult<Json<serde_json::Value>> {
    let now = picket_store::now_ms();
    if !journal(&*d, move |j| j.end_silence(id, now)).await? {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("no silence {id}")));
    }
    d.silences_changed();
    Ok(Json(json!({ "ended": id })))
}
