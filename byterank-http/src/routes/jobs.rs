//! Jobs: quote, create, upload the input, status, download the output, cancel.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;

use super::staging::stage;
use super::{bearer, idempotency_key, need_bearer, octets, store_error, AppState, JsonBody, IDEMPOTENCY_KEY};
use byterank_core::JobSpec;

use crate::api::{JobView, QuoteView, StatusQuery};
use crate::error::ApiError;
use crate::service::{quote_view, Principal};
use crate::throttle::Action;

/// A rate-limited caller's name.
fn caller(who: &Principal) -> String {
    match who {
        Principal::Operator => "operator".into(),
        Principal::User(u) => format!("user:{u}"),
        Principal::Device(d) => format!("device:{d}"),
        Principal::Owner(o) => format!("owner:{o}"),
    }
}

/// What a job would do now (tasks, copies, pools, PJF, price) and what the user may spend,
/// for a user who can pay for it.
#[utoipa::path(post, path = "/v1/jobs/quote", tag = "jobs", security(("bearer" = [])), request_body(content = Object, description = "a job file (docs/formats.md)"),
    responses((status = 200, body = QuoteView), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 402, body = ApiError), (status = 403, body = ApiError), (status = 429, body = ApiError),
        (status = 503, body = ApiError)))]
pub async fn quote(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<JsonBody<JobSpec>, ApiError>,
) -> Result<Json<QuoteView>, ApiError> {
    let bearer = need_bearer(&headers)?;
    let JsonBody(job) = body?;
    let throttle = app.throttle.clone();
    let spec = job.clone();
    // The checks (cheap) on the state's thread; the planning (which grows with the
    // job) on the blocking pool, a bounded number at once.
    let (basis, available) = app
        .seq
        .authed(Some(bearer), move |svc, at, who| {
            throttle.check(Action::Quote, &caller(who))?;
            svc.quote_basis(at, who, &spec)
        })
        .await?;
    let q = app.throttle.plan(move || basis.quote(&job)).await?.map_err(ApiError::engine)?;
    Ok(Json(quote_view(&q, available)))
}

/// Create a job (the job file, with its preferences). Its price is charged when it
/// is submitted: now, or, for an application that reads input, once the input is
/// uploaded (the price is set aside meanwhile).
#[utoipa::path(post, path = "/v1/jobs", tag = "jobs", security(("bearer" = [])), request_body(content = Object, description = "a job file (docs/formats.md)"),
    params(("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY)),
    responses((status = 201, body = JobView), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 402, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError),
        (status = 429, body = ApiError)))]
pub async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<JsonBody<JobSpec>, ApiError>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let bearer = need_bearer(&headers)?;
    let key = idempotency_key(&headers)?;
    let JsonBody(job) = body?;
    let throttle = app.throttle.clone();
    // Only a caller whose key verifies waits for a submission's turn: a flood
    // of bad keys cannot hold the turn from users.
    app.seq.authed(Some(bearer.clone()), |_, _, _| Ok(())).await?;
    let _turn = app.throttle.submission().await?;
    let view = app
        .seq
        .authed(Some(bearer), move |svc, at, who| {
            throttle.check(Action::CreateJob, &caller(who))?;
            svc.create_job(at, who, job, key.as_deref())
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Upload the job's input (exactly `input_bytes` bytes): the job is submitted.
#[utoipa::path(put, path = "/v1/jobs/{job}/input", tag = "jobs", security(("bearer" = [])),
    params(("job" = String, Path, description = "the job id")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = JobView), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 413, body = ApiError)))]
pub async fn upload_input(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(job): Path<String>,
    body: Body,
) -> Result<Json<JobView>, ApiError> {
    // The credential and the job first: nobody's body is read before they pass.
    let bearer = need_bearer(&headers)?;
    let j = job.clone();
    let expected = app.seq.authed(Some(bearer.clone()), move |svc, _, who| svc.input_target(who, &j)).await?;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if let Some(len) = declared.filter(|&l| l != expected) {
        return Err(ApiError::bad_request(format!(
            "the input is {len} bytes but the job says `input_bytes` = {expected}"
        ))
        .at("input"));
    }
    let staged = stage(&app.staging, body, expected, "the job's `input_bytes`").await?;
    let len = staged.len;
    let path = staged.keep();
    let kept = path.clone();
    let _turn = app.throttle.submission().await?;
    let r = app.seq.authed(Some(bearer), move |svc, at, who| svc.store_input_file(at, who, &job, len, kept)).await;
    if r.is_err() {
        let _ = std::fs::remove_file(&path);
    }
    r.map(Json)
}

/// The job's status; `?tasks=true` adds per-task progress (`from`, `limit`).
#[utoipa::path(get, path = "/v1/jobs/{job}", tag = "jobs", security(("bearer" = [])),
    params(("job" = String, Path, description = "the job id"), StatusQuery),
    responses((status = 200, body = JobView), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 404, body = ApiError)))]
pub async fn status(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(job): Path<String>,
    q: Result<Query<StatusQuery>, QueryRejection>,
) -> Result<Json<JobView>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(format!("the query does not read: {e}")))?;
    app.seq.authed(bearer(&headers), move |svc, _, who| svc.job_view(who, &job, &q)).await.map(Json)
}

/// The assembled output of a completed job.
#[utoipa::path(get, path = "/v1/jobs/{job}/output", tag = "jobs", security(("bearer" = [])),
    params(("job" = String, Path, description = "the job id")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn output(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(job): Path<String>,
) -> Result<Response, ApiError> {
    let key = app.seq.authed(bearer(&headers), move |svc, _, who| svc.output_of(who, &job)).await?;
    let store = app.store.clone();
    let bytes = tokio::task::spawn_blocking(move || store.blob(&key, 0, None))
        .await
        .map_err(|_| ApiError::unavailable("the read was interrupted: retry"))?
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found("the output is missing"))?;
    Ok(octets(bytes))
}

/// Cancel the job: unearned bounties go back to the user.
#[utoipa::path(delete, path = "/v1/jobs/{job}", tag = "jobs", security(("bearer" = [])),
    params(("job" = String, Path, description = "the job id")),
    responses((status = 200, body = JobView), (status = 401, body = ApiError), (status = 404, body = ApiError),
        (status = 409, body = ApiError)))]
pub async fn cancel(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(job): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    app.seq.authed(bearer(&headers), move |svc, at, who| svc.cancel_job(at, who, &job)).await.map(Json)
}
