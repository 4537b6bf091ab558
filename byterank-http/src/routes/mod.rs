//! The routes, grouped as the paper groups the Core System's APIs (§3.1). Each is
//! parsing and transport: read the credential and the body, call the state
//! ([`crate::sequencer`]), answer JSON.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::FromRequest;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::journal::Store;
use crate::sequencer::Sequencer;

pub mod devices;
pub mod history;
pub mod jobs;
pub mod money;
pub mod operators;
pub mod staging;
pub mod tasks;

/// What every route reaches: one shared [`App`], so that handing it to each
/// request (axum clones the state per extractor) is one reference count, not a
/// copy of its handles and paths.
#[derive(Clone)]
pub struct AppState(Arc<App>);

impl AppState {
    /// Shares `app` with every route.
    pub fn new(app: App) -> AppState {
        AppState(Arc::new(app))
    }
}

impl std::ops::Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}

/// The handles and settings behind [`AppState`].
pub struct App {
    /// The state's thread.
    pub seq: Sequencer,
    /// Downloads and history.
    pub store: Arc<dyn Store>,
    /// Renders the Prometheus metrics.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Whether this node leads (a standby refuses writes).
    pub role: Arc<crate::lead::Role>,
    /// Rate limits and planners.
    pub throttle: Arc<crate::throttle::Throttle>,
    /// Where uploads are staged (on the data directory's file system).
    pub staging: std::path::PathBuf,
}

/// The bearer credential of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

/// The bearer credential, required: checked before the body is read, so that a
/// caller without one is told so first.
pub fn need_bearer(headers: &HeaderMap) -> Result<String, ApiError> {
    bearer(headers).ok_or_else(|| ApiError::unauthorized("send `Authorization: Bearer <key>`"))
}

/// The request's `Idempotency-Key`, if any (its rules are checked by the call).
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => v.to_str().map(|k| Some(k.to_string())).map_err(|_| {
            ApiError::bad_request("the `Idempotency-Key` header must be visible ASCII").at("Idempotency-Key")
        }),
    }
}

/// The OpenAPI description of the `Idempotency-Key` header.
pub const IDEMPOTENCY_KEY: &str = "1 to 64 visible ASCII characters, new for each call and the same on its retries: \
    a retry gets the first answer and changes nothing";

/// A JSON body whose errors name the field at fault.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(is_json);
        if !json {
            return Err(ApiError::bad_request("send the body as JSON with `Content-Type: application/json`"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let err = ApiError::bad_request(format!("the body does not read: {}", e.inner()));
            if path == "." {
                err
            } else {
                err.at(path)
            }
        })?;
        // One JSON value, and nothing after it but white space.
        de.end().map_err(|e| ApiError::bad_request(format!("the body has more after its JSON value: {e}")))?;
        Ok(JsonBody(value))
    }
}

/// `application/json`, with parameters (`; charset=utf-8`) or none, in any case:
/// not `application/jsonfoo`.
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// The JSON error for a body that could not be read (too large, cut short).
pub fn body_error(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large("the body is larger than this route takes")
    } else {
        ApiError::bad_request(format!("the body could not be read: {e}"))
    }
}

/// Bytes, as a download.
pub fn octets(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
}

/// A storage failure while serving a read.
pub fn store_error(e: crate::journal::JournalError) -> ApiError {
    tracing::error!("storage read failed: {e}");
    ApiError::unavailable(format!("storage failed: {e}"))
}
