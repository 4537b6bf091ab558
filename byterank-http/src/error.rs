//! The one error shape every route answers with: a status code, a machine-readable
//! code, a message that says what to do, and the field at fault when there is one.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use byterank_core::EngineError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A refused request. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// The HTTP status code.
    pub status: u16,
    /// What kind of refusal: `bad_request`, `unauthorized`, `forbidden`,
    /// `not_found`, `conflict`, `payment_required`, `gone`, `too_large`,
    /// `too_many_requests`, `unavailable`.
    pub code: String,
    /// What is wrong and what to do.
    pub message: String,
    /// The request field at fault (a JSON path such as `device.ram_available_mb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For 429: when to retry, milliseconds (also sent as `Retry-After`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: status.as_u16(),
            code: code.into(),
            message: message.into(),
            field: None,
            retry_after_ms: None,
        }
    }

    /// 400: the request is malformed or invalid.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401: no credential, or one that does not verify.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: a valid credential that may not do this.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: no such thing (or not one the caller may see).
    pub fn not_found(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409: the request conflicts with the state (a duplicate, a job that ended).
    pub fn conflict(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 402: the user's balance does not cover the price.
    pub fn payment_required(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::PAYMENT_REQUIRED, "payment_required", message)
    }

    /// 410: the attempt ended; nothing more is taken for it.
    pub fn gone(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::GONE, "gone", message)
    }

    /// 413: the body is larger than the route takes.
    pub fn too_large(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    /// 429: the caller is past its rate; `retry_after_ms` says when to retry.
    pub fn too_many(message: impl Into<String>, retry_after_ms: u64) -> ApiError {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message);
        e.retry_after_ms = Some(retry_after_ms);
        e
    }

    /// 503: the service cannot take the request now.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// The same error with another status code.
    pub fn with_status(mut self, status: u16) -> ApiError {
        self.status = status;
        self
    }

    /// The same error, naming the field at fault.
    pub fn at(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    /// The engine's refusal, with the status it deserves.
    pub fn engine(e: EngineError) -> ApiError {
        use byterank_core::engine::{Refusal, RegisterError, SubmitError, UpdateError};
        let message = e.to_string();
        match (&e, e.refusal()) {
            (_, Refusal::NotFound) => Self::not_found(message),
            (_, Refusal::Gone) => Self::gone(message),
            (_, Refusal::Forbidden) => Self::forbidden(message),
            (_, Refusal::Conflict) => Self::conflict(message),
            (
                EngineError::Register(RegisterError::BadDevice(d)) | EngineError::Update(UpdateError::BadDevice(d)),
                _,
            ) => Self::bad_request(message).at(format!("device.{}", d.field)),
            (EngineError::Submit(SubmitError::UnknownApplication { .. }), _) => {
                Self::bad_request(message).at("job.application")
            }
            (EngineError::Submit(SubmitError::Admission(a)), _) if a.names_the_price() => {
                Self::bad_request(message).at("price_chips")
            }
            _ => Self::bad_request(message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = self.retry_after_ms.map(|ms| ms.div_ceil(1_000).max(1));
        let mut response = (status, axum::Json(self)).into_response();
        if let Some(secs) = retry {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}
