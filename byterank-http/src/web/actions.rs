//! What the pages do: quote, create and upload a job (called by the job form's
//! script, with the CSRF token in a header), cancel one (a form), download an
//! output. Each is the API's call made with the session's key.

use axum::body::Body;
use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use byterank_core::JobSpec;
use serde::Deserialize;

use super::customer::{refused, to_sign_in};
use super::pages::job_href;
use super::session::Session;
use crate::error::ApiError;
use crate::routes::{jobs, octets, store_error, AppState, JsonBody};

/// The session of a script's write, its token checked.
fn script_session(headers: &HeaderMap) -> Result<Session, ApiError> {
    let s = Session::from_headers(headers).ok_or_else(|| ApiError::unauthorized("sign in again"))?;
    if !s.csrf_header_ok(headers) {
        return Err(ApiError::forbidden("the page's CSRF token is missing or stale: reload the page"));
    }
    Ok(s)
}

/// The headers of an API call made for the session: its key as the bearer, so a
/// page's call goes through exactly what the API's does (limits, rate limits,
/// planning off the state's thread, uploads streamed to disk, idempotency keys).
fn as_api_call(mut headers: HeaderMap, s: &Session) -> Result<HeaderMap, ApiError> {
    let bearer = HeaderValue::from_str(&format!("Bearer {}", s.key))
        .map_err(|_| ApiError::unauthorized("the session's key is not a header value: sign in again"))?;
    headers.insert(header::AUTHORIZATION, bearer);
    Ok(headers)
}

/// `POST /web/quote`: what the job would do, as the API's quote.
pub async fn quote(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<JsonBody<JobSpec>, ApiError>,
) -> Result<Response, ApiError> {
    let s = script_session(&headers)?;
    let headers = as_api_call(headers, &s)?;
    Ok(jobs::quote(State(app), headers, body).await?.into_response())
}

/// `POST /web/jobs`: create the job.
pub async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<JsonBody<JobSpec>, ApiError>,
) -> Result<Response, ApiError> {
    let s = script_session(&headers)?;
    let headers = as_api_call(headers, &s)?;
    Ok(jobs::create(State(app), headers, body).await?.into_response())
}

/// `PUT /web/jobs/{job}/input`: upload the input; the job is submitted.
pub async fn upload(
    State(app): State<AppState>,
    headers: HeaderMap,
    job: Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let s = script_session(&headers)?;
    let headers = as_api_call(headers, &s)?;
    Ok(jobs::upload_input(State(app), headers, job, body).await?.into_response())
}

/// A form that carries only its token.
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    /// The session's CSRF token.
    pub csrf: String,
}

/// `POST /jobs/{job}/cancel`: cancel, then back to the job's page.
pub async fn cancel(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(job): Path<String>,
    Form(form): Form<TokenForm>,
) -> Response {
    let Some(s) = Session::from_headers(&headers) else { return to_sign_in() };
    if !s.csrf_ok(Some(&form.csrf)) {
        return refused(ApiError::forbidden("the form's CSRF token is stale: reload the page"), &s, &headers);
    }
    let id = job.clone();
    match app.seq.authed(Some(s.key.clone()), move |svc, at, who| svc.cancel_job(at, who, &id)).await {
        Ok(_) => Redirect::to(&job_href(&job)).into_response(),
        Err(e) => refused(e, &s, &headers),
    }
}

/// `GET /jobs/{job}/output`: the output, as a file named after the job.
pub async fn output(State(app): State<AppState>, headers: HeaderMap, Path(job): Path<String>) -> Response {
    let Some(s) = Session::from_headers(&headers) else { return to_sign_in() };
    let id = job.clone();
    let key = match app.seq.authed(Some(s.key.clone()), move |svc, _, who| svc.output_of(who, &id)).await {
        Ok(k) => k,
        Err(e) => return refused(e, &s, &headers),
    };
    let store = app.store.clone();
    let bytes = match tokio::task::spawn_blocking(move || store.blob(&key, 0, None)).await {
        Ok(Ok(Some(b))) => b,
        Ok(Ok(None)) => return refused(ApiError::not_found("the output is missing"), &s, &headers),
        Ok(Err(e)) => return refused(store_error(e), &s, &headers),
        Err(_) => return refused(ApiError::unavailable("the read was interrupted: retry"), &s, &headers),
    };
    let mut resp = octets(bytes);
    let name: String =
        job.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).take(100).collect();
    let disposition = format!("attachment; filename=\"{name}.out\"");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}
