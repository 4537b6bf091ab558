//! The caller's history: their jobs, newest first, and their usage.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;

use super::{bearer, AppState};
use crate::error::ApiError;
use crate::listing::{self, JobList, JobsQuery, Usage, UsageQuery};

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q).map_err(|e| ApiError::bad_request(format!("the query does not read: {e}")))
}

/// The calling user's jobs, newest first, with their state and progress; page
/// with `limit` and `after`.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", security(("bearer" = [])), params(JobsQuery),
    responses((status = 200, body = JobList), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError)))]
pub async fn jobs(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<JobsQuery>, QueryRejection>,
) -> Result<Json<JobList>, ApiError> {
    let q = query(q)?;
    app.seq.authed(bearer(&headers), move |svc, _, who| listing::jobs(svc, who, &q)).await.map(Json)
}

/// What the calling user spent per day and per application, and the tasks run,
/// over the last `days` days.
#[utoipa::path(get, path = "/v1/usage", tag = "billing", security(("bearer" = [])), params(UsageQuery),
    responses((status = 200, body = Usage), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError)))]
pub async fn usage(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<UsageQuery>, QueryRejection>,
) -> Result<Json<Usage>, ApiError> {
    let q = query(q)?;
    app.seq.authed(bearer(&headers), move |svc, at, who| listing::usage(svc, who, at.millis(), &q)).await.map(Json)
}
