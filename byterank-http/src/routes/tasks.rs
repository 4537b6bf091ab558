//! Tasks: pull, download the input chunk, heartbeat, upload the result, report an error.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use byterank_core::AttemptId;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::{bearer, idempotency_key, need_bearer, octets, store_error, AppState, IDEMPOTENCY_KEY};
use crate::api::{Assignment, Beat, Pulled, Reported};
use crate::error::ApiError;

/// Ask for the next task. With none, the answer says why and when to ask again.
/// A retry under the same `Idempotency-Key` gets the task the first try was
/// given, if it still runs, instead of a second one.
#[utoipa::path(post, path = "/v1/tasks/pull", tag = "tasks", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header,
        description = "1 to 64 visible ASCII characters, the same on every retry of one pull")),
    responses((status = 200, body = Pulled), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 410, body = ApiError)))]
pub async fn pull(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Pulled>, ApiError> {
    let key = idempotency_key(&headers)?;
    app.seq.authed(bearer(&headers), move |svc, at, who| svc.pull(at, who, key.as_deref())).await.map(Json)
}

/// The attempts this device holds (a restarted worker resumes them).
#[utoipa::path(get, path = "/v1/tasks/held", tag = "tasks", security(("bearer" = [])),
    responses((status = 200, body = Vec<Assignment>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn held(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Vec<Assignment>>, ApiError> {
    app.seq.authed(bearer(&headers), |svc, _, who| svc.held_tasks(who)).await.map(Json)
}

/// The attempt's input chunk, as bytes.
#[utoipa::path(get, path = "/v1/tasks/{attempt}/input", tag = "tasks", security(("bearer" = [])),
    params(("attempt" = u64, Path, description = "the attempt")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 410, body = ApiError)))]
pub async fn input(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(attempt): Path<String>,
) -> Result<Response, ApiError> {
    let attempt = parse_attempt(&attempt)?;
    let (key, offset, len) = app.seq.authed(bearer(&headers), move |svc, _, who| svc.input_of(who, attempt)).await?;
    let store = app.store.clone();
    let bytes = tokio::task::spawn_blocking(move || store.blob(&key, offset, Some(len)))
        .await
        .map_err(|_| ApiError::unavailable("the read was interrupted: retry"))?
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found("the job's input is gone: the job ended"))?;
    Ok(octets(bytes))
}

/// Still working. `continue: false` means stop: the attempt ended (`state` says how).
#[utoipa::path(post, path = "/v1/tasks/{attempt}/heartbeat", tag = "tasks", security(("bearer" = [])),
    params(("attempt" = u64, Path, description = "the attempt")),
    responses((status = 200, body = Beat), (status = 401, body = ApiError), (status = 404, body = ApiError)))]
pub async fn heartbeat(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(attempt): Path<String>,
) -> Result<Json<Beat>, ApiError> {
    let attempt = parse_attempt(&attempt)?;
    app.seq.authed(bearer(&headers), move |svc, at, who| svc.heartbeat(at, who, attempt)).await.map(Json)
}

/// Upload the result: its bytes (`gzip`), or its metadata as JSON (`synthetic`).
#[utoipa::path(post, path = "/v1/tasks/{attempt}/result", tag = "tasks", security(("bearer" = [])),
    params(("attempt" = u64, Path, description = "the attempt"), ("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY)),
    request_body(content = Vec<u8>, description = "the result's bytes, or `{\"size\": N, \"digest\": \"...\"}`",
        content_type = "application/octet-stream"),
    responses((status = 200, body = Reported), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 404, body = ApiError), (status = 410, body = ApiError), (status = 413, body = ApiError)))]
pub async fn result(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(attempt): Path<String>,
    body: Body,
) -> Result<Json<Reported>, ApiError> {
    // The credential and the attempt first: nobody's body is read before they pass.
    let bearer = need_bearer(&headers)?;
    let attempt = parse_attempt(&attempt)?;
    let key = idempotency_key(&headers)?;
    let k = key.clone();
    let most =
        app.seq.authed(Some(bearer.clone()), move |svc, _, who| svc.result_target(who, attempt, k.as_deref())).await?;
    let limit = most.map_or(MAX_RESULT_BYTES, |m| m.min(MAX_RESULT_BYTES as u64) as usize);
    let body = match Limited::new(body, limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            return Err(ApiError::too_large(format!("a result for this attempt is at most {limit} bytes")))
        }
        Err(e) => return Err(ApiError::bad_request(format!("the body could not be read: {e}"))),
    };
    app.seq
        .authed(Some(bearer), move |svc, at, who| svc.report_result(at, who, attempt, &body, key.as_deref()))
        .await
        .map(Json)
}

/// Largest result upload, bytes.
pub const MAX_RESULT_BYTES: usize = 64 << 20;

/// The attempt failed on the device (execution or transfer error).
#[utoipa::path(post, path = "/v1/tasks/{attempt}/error", tag = "tasks", security(("bearer" = [])),
    params(("attempt" = u64, Path, description = "the attempt"), ("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY)),
    responses((status = 204), (status = 401, body = ApiError), (status = 404, body = ApiError),
        (status = 410, body = ApiError)))]
pub async fn error(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(attempt): Path<String>,
) -> Result<StatusCode, ApiError> {
    let attempt = parse_attempt(&attempt)?;
    let key = idempotency_key(&headers)?;
    app.seq.authed(bearer(&headers), move |svc, at, who| svc.report_error(at, who, attempt, key.as_deref())).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_attempt(s: &str) -> Result<AttemptId, ApiError> {
    s.parse().map(AttemptId).map_err(|_| ApiError::bad_request(format!("`{s}` is not an attempt number")).at("attempt"))
}
