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
    /// `not_found`, `method_not_allowed`, `conflict`, `payment_required`,
    /// `gone`, `too_large`, `uri_too_long`, `headers_too_large`,
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

    /// 405: the route exists but does not take this method.
    pub fn method_not_allowed(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", message)
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
        use byterank_core::engine::{AdmissionError, Refusal, RegisterError, SubmitError, UpdateError};
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
                Self::bad_request(message).at("application")
            }
            (EngineError::Submit(SubmitError::Admission(a)), _) if a.names_the_price() => {
                Self::bad_request(message).at("price_chips")
            }
            (EngineError::Submit(SubmitError::Admission(AdmissionError::ReplicationShortfall { .. })), _) => {
                Self::bad_request(message).at("replication")
            }
            _ => Self::bad_request(message),
        }
    }
}

/// The code of a status, for an error the routes did not make themselves (an
/// extractor's rejection, a timeout).
fn code_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "timeout",
        409 => "conflict",
        410 => "gone",
        413 => "too_large",
        414 => "uri_too_long",
        429 => "too_many_requests",
        431 => "headers_too_large",
        400..=499 => "bad_request",
        _ => "unavailable",
    }
}

/// Middleware: every error answer is an [`ApiError`]. One that is not JSON (an
/// axum extractor's plain-text rejection, such as a path segment that is not
/// UTF-8, or a body timeout's empty 408) is rewritten as one, its text kept as
/// the message. Web pages' HTML answers are left as they are.
pub async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let kind = response.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if kind.is_some_and(|k| k.starts_with("application/json") || k.starts_with("text/html")) {
        return response;
    }
    // Rejections are a line of text; more than this is not one.
    let text = match axum::body::to_bytes(response.into_body(), 4_096).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = match (status.as_u16(), text.is_empty()) {
        (408, _) => "the request's body did not arrive in time: send it faster, or in smaller parts".to_string(),
        (_, true) => status.canonical_reason().unwrap_or("refused").to_lowercase(),
        (_, false) if text.starts_with("Invalid URL") => {
            format!("the path does not read ({text}): percent-encode UTF-8 text")
        }
        (_, false) => text,
    };
    ApiError::new(status, code_of(status), message).into_response()
}

/// An engine handle named in a message: which kind, and its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handle {
    /// `DeviceId(n)`.
    Device(u32),
    /// `JobId(n)`.
    Job(u32),
    /// `AttemptId(n)`.
    Attempt(u64),
}

/// `message` with every engine handle written as a Rust value (`DeviceId(4)`)
/// replaced by what `name` calls it (`device `phone-7``): users know devices
/// and jobs by their ids, never by the engine's handles.
pub fn name_handles(message: &str, name: impl Fn(Handle) -> String) -> String {
    const KINDS: [&str; 3] = ["DeviceId(", "JobId(", "AttemptId("];
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    loop {
        let next = KINDS.iter().filter_map(|k| rest.find(k).map(|at| (at, *k))).min();
        let Some((at, kind)) = next else { break };
        let after = &rest[at + kind.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let number = after[..digits].parse::<u64>().ok().filter(|_| after[digits..].starts_with(')'));
        let handle = number.and_then(|n| match kind {
            "DeviceId(" => u32::try_from(n).ok().map(Handle::Device),
            "JobId(" => u32::try_from(n).ok().map(Handle::Job),
            _ => Some(Handle::Attempt(n)),
        });
        out.push_str(&rest[..at]);
        match handle {
            Some(h) => {
                out.push_str(&name(h));
                rest = &after[digits + 1..];
            }
            None => {
                out.push_str(kind);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_named_as_users_know_them() {
        let name = |h: Handle| match h {
            Handle::Device(4) => "device `phone`".to_string(),
            Handle::Device(n) => format!("device #{n}"),
            Handle::Job(n) => format!("job `j{n}`"),
            Handle::Attempt(n) => format!("attempt {n}"),
        };
        assert_eq!(
            name_handles("AttemptId(7) is not held by DeviceId(4): send it", name),
            "attempt 7 is not held by device `phone`: send it"
        );
        assert_eq!(name_handles("unknown JobId(12)", name), "unknown job `j12`");
        assert_eq!(name_handles("no handles here", name), "no handles here");
        // Not a handle: left as it is, and the scan goes on past it.
        assert_eq!(name_handles("DeviceId(x) and DeviceId(", name), "DeviceId(x) and DeviceId(");
        assert_eq!(name_handles("DeviceId(99999999999) then JobId(1)", name), "DeviceId(99999999999) then job `j1`");
    }
}
