//! Devices and their owners: open an owner's account, register, report status,
//! set worker preferences, leave.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Extension;
use axum::Json;
use byterank_core::Device;

use super::{bearer, need_bearer, AppState, JsonBody};
use byterank_core::worker::WorkerPrefs;

use crate::api::{CreateOwner, DeviceView, OwnerCreated, RegisterDevice, Registered};
use crate::auth::Secret;
use crate::error::ApiError;
use crate::throttle::Action;

/// Open a worker owner's account; its key is in the answer, once. Anyone may,
/// for a name nobody has (rate-limited per address).
#[utoipa::path(post, path = "/v1/owners", tag = "devices", request_body = CreateOwner,
    responses((status = 201, body = OwnerCreated), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 409, body = ApiError), (status = 429, body = ApiError)))]
pub async fn create_owner(
    State(app): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<CreateOwner>,
) -> Result<(StatusCode, Json<OwnerCreated>), ApiError> {
    app.throttle.check(Action::Register, &peer_of(peer))?;
    let fresh = Secret::generate();
    let r = app.seq.maybe_authed(bearer(&headers), move |svc, at, who| svc.create_owner(at, who, req, fresh)).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

fn peer_of(peer: Option<Extension<ConnectInfo<SocketAddr>>>) -> String {
    peer.map_or_else(|| "unknown".into(), |Extension(ConnectInfo(a))| a.ip().to_string())
}

/// Register a device with its owner's key; the device's token is in the answer,
/// once. A device that left comes back by registering again with its token.
#[utoipa::path(post, path = "/v1/devices", tag = "devices", request_body = RegisterDevice,
    responses((status = 201, body = Registered), (status = 200, description = "came back", body = Registered),
        (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 409, body = ApiError), (status = 429, body = ApiError)))]
pub async fn register(
    State(app): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<RegisterDevice>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    app.throttle.check(Action::Register, &peer_of(peer))?;
    let bearer = bearer(&headers);
    let fresh = Secret::generate();
    let r = app.seq.maybe_authed(bearer, move |svc, at, who| svc.register_device(at, who, req, fresh)).await?;
    let status = if r.token.is_some() { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(r)))
}

/// The calling device as the engine knows it.
#[utoipa::path(get, path = "/v1/devices/me", tag = "devices", security(("bearer" = [])),
    responses((status = 200, body = DeviceView), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn me(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<DeviceView>, ApiError> {
    app.seq.authed(bearer(&headers), |svc, _, who| svc.device_view(who)).await.map(Json)
}

/// Report the device's measured state (the grid-state fields of a device).
#[utoipa::path(put, path = "/v1/devices/me", tag = "devices", security(("bearer" = [])),
    request_body(content = Object, description = "a device object, as in a grid file"),
    responses((status = 200, body = DeviceView), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError)))]
pub async fn report_status(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<JsonBody<Device>, ApiError>,
) -> Result<Json<DeviceView>, ApiError> {
    let bearer = need_bearer(&headers)?;
    let JsonBody(device) = body?;
    app.seq.authed(Some(bearer), move |svc, at, who| svc.update_status(at, who, device)).await.map(Json)
}

/// Set the worker's preferences (Table 3): schedule, connections, data cap.
#[utoipa::path(put, path = "/v1/devices/me/preferences", tag = "devices", security(("bearer" = [])),
    request_body(content = Object, description = "the `worker` object of a grid file's device"),
    responses((status = 200, body = DeviceView), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError)))]
pub async fn set_preferences(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<JsonBody<WorkerPrefs>, ApiError>,
) -> Result<Json<DeviceView>, ApiError> {
    let bearer = need_bearer(&headers)?;
    let JsonBody(prefs) = body?;
    app.seq.authed(Some(bearer), move |svc, at, who| svc.set_preferences(at, who, prefs)).await.map(Json)
}

/// Leave the grid; tasks in hand are abandoned. Come back by registering with the token.
#[utoipa::path(delete, path = "/v1/devices/me", tag = "devices", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 410, body = ApiError)))]
pub async fn leave(State(app): State<AppState>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    app.seq.authed(bearer(&headers), |svc, at, who| svc.remove_device(at, who)).await?;
    Ok(StatusCode::NO_CONTENT)
}
