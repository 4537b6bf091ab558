//! Wallet (workers' ByteChips) and Billing (users' balances, top-ups, charges).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;

use super::{bearer, idempotency_key, need_bearer, store_error, AppState, JsonBody, IDEMPOTENCY_KEY};
use crate::api::{Balance, CreateUser, TopUp, UserCreated, Wallet};
use crate::auth::Secret;
use crate::error::ApiError;
use crate::service::{user_account, worker_account};

/// How many history lines to return.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Latest lines to return (default 100, at most 10,000).
    #[serde(default)]
    pub limit: Option<u32>,
}

fn limit(q: Result<Query<HistoryQuery>, QueryRejection>) -> Result<u32, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(format!("the query does not read: {e}")))?;
    match q.limit.unwrap_or(100) {
        n @ 0..=10_000 => Ok(n),
        _ => Err(ApiError::bad_request("return at most 10000 history lines").at("limit")),
    }
}

/// The calling owner's wallet: balance and latest rewards (the owner's key only).
#[utoipa::path(get, path = "/v1/wallet", tag = "wallet", security(("bearer" = [])), params(HistoryQuery),
    responses((status = 200, body = Wallet), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn wallet(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<Wallet>, ApiError> {
    let limit = limit(q)?;
    let mut w = app.seq.authed(bearer(&headers), |svc, _, who| svc.wallet(who)).await?;
    w.history = history(&app, worker_account(&w.owner), limit).await?;
    Ok(Json(w))
}

/// The calling user's balance, charges, refunds and top-ups.
#[utoipa::path(get, path = "/v1/billing", tag = "billing", security(("bearer" = [])), params(HistoryQuery),
    responses((status = 200, body = Balance), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError)))]
pub async fn billing(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<Balance>, ApiError> {
    let limit = limit(q)?;
    let mut b = app.seq.authed(bearer(&headers), |svc, _, who| svc.balance(who)).await?;
    b.history = history(&app, user_account(&b.user), limit).await?;
    Ok(Json(b))
}

/// Credit a user's balance (operator: payments are taken outside the service).
#[utoipa::path(post, path = "/v1/billing/top-ups", tag = "billing", security(("bearer" = [])), request_body = TopUp,
    params(("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY)),
    responses((status = 200, body = Balance), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn top_up(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<JsonBody<TopUp>, ApiError>,
) -> Result<Json<Balance>, ApiError> {
    let bearer = need_bearer(&headers)?;
    let JsonBody(req) = body?;
    let key = idempotency_key(&headers)?;
    app.seq.authed(Some(bearer), move |svc, at, who| svc.top_up(at, who, req, key.as_deref())).await.map(Json)
}

/// Open a user's account (operator); their API key is in the answer, once.
#[utoipa::path(post, path = "/v1/users", tag = "billing", security(("bearer" = [])), request_body = CreateUser,
    responses((status = 201, body = UserCreated), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError)))]
pub async fn create_user(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<JsonBody<CreateUser>, ApiError>,
) -> Result<(StatusCode, Json<UserCreated>), ApiError> {
    let bearer = need_bearer(&headers)?;
    let JsonBody(req) = body?;
    let fresh = Secret::generate();
    let u = app.seq.authed(Some(bearer), move |svc, at, who| svc.create_user(at, who, req, fresh)).await?;
    Ok((StatusCode::CREATED, Json(u)))
}

async fn history(app: &AppState, account: String, limit: u32) -> Result<Vec<crate::service::Entry>, ApiError> {
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || store.history(&account, limit))
        .await
        .map_err(|_| ApiError::unavailable("the read was interrupted: retry"))?
        .map_err(store_error)
}
