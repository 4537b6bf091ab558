//! Operators: the ranked grid and pools, trust, health, metrics.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{bearer, need_bearer, AppState, JsonBody};
use crate::api::{DeviceView, GridQuery, GridView, Health, LedgerView, PoolsView, SetTrust};
use crate::error::ApiError;

/// The ranked grid, best first, then flagged devices: what `byterank rank` shows.
#[utoipa::path(get, path = "/v1/grid", tag = "operators", security(("bearer" = [])), params(GridQuery),
    responses((status = 200, body = GridView), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError)))]
pub async fn grid(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<GridQuery>, QueryRejection>,
) -> Result<Json<GridView>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(format!("the query does not read: {e}")))?;
    app.seq.authed(bearer(&headers), move |svc, _, who| svc.grid(who, &q)).await.map(Json)
}

/// Running jobs: their pools, queued copies, running attempts and open tasks.
#[utoipa::path(get, path = "/v1/grid/pools", tag = "operators", security(("bearer" = [])),
    responses((status = 200, body = Vec<PoolsView>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn pools(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Vec<PoolsView>>, ApiError> {
    app.seq.authed(bearer(&headers), |svc, _, who| svc.pools(who)).await.map(Json)
}

/// Set or clear a device's trust (spec §11b): the only way a device becomes trusted.
#[utoipa::path(put, path = "/v1/devices/{device}/trust", tag = "operators", security(("bearer" = [])),
    params(("device" = String, Path, description = "the device id")), request_body = SetTrust,
    responses((status = 200, body = DeviceView), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn set_trust(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(device): Path<String>,
    body: Result<JsonBody<SetTrust>, ApiError>,
) -> Result<Json<DeviceView>, ApiError> {
    let bearer = need_bearer(&headers)?;
    let JsonBody(req) = body?;
    app.seq.authed(Some(bearer), move |svc, at, who| svc.set_trust(at, who, &device, req.trusted)).await.map(Json)
}

/// Where every ByteChip is: charged = wallets + refunded + platform + escrow.
#[utoipa::path(get, path = "/v1/ledger", tag = "operators", security(("bearer" = [])),
    responses((status = 200, body = LedgerView), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn ledger(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<LedgerView>, ApiError> {
    app.seq.authed(bearer(&headers), |svc, _, who| svc.ledger(who)).await.map(Json)
}

/// Whether the service answers, and how far its journal has come. Answered
/// without the engine's thread, from what it published after its last batch, so
/// it answers while that thread is busy.
#[utoipa::path(get, path = "/health", tag = "operators", responses((status = 200, body = Health),
    (status = 503, body = ApiError)))]
pub async fn health(State(app): State<AppState>) -> Json<Health> {
    let role = if app.role.is_leader() { "leader" } else { "standby" };
    let (devices, running_jobs) = app.seq.counts();
    Json(Health { status: "ok".into(), role: role.into(), journal_seq: app.seq.seq(), devices, running_jobs })
}

/// Prometheus metrics (operator key).
#[utoipa::path(get, path = "/metrics", tag = "operators", security(("bearer" = [])),
    responses((status = 200, content_type = "text/plain", body = String), (status = 401, body = ApiError),
        (status = 403, body = ApiError)))]
pub async fn metrics(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let backlog = app.seq.backlog();
    let jobs = app
        .seq
        .authed(bearer(&headers), |svc, _, who| match who {
            crate::service::Principal::Operator => Ok(svc.job_queues()),
            _ => Err(ApiError::forbidden("this route needs the operator key")),
        })
        .await?;
    metrics::gauge!("byterank_engine_backlog").set(backlog as f64);
    let mut body = app.metrics.as_ref().map(|m| m.render()).unwrap_or_default();
    body.push_str(&crate::telemetry::job_gauges(&jobs));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}
