//! Wallet (workers' ByteChips) and Billing (users' balances, top-ups, charges).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;

use super::{bearer, idempotency_key, need_bearer, store_error, AppState, JsonBody, IDEMPOTENCY_KEY};
use crate::api::{
    Balance, CreateUser, PayoutList, PayoutRequest, PayoutsQuery, SettlePayout, TopUp, UserCreated, Wallet,
};
use crate::auth::Secret;
use crate::error::ApiError;
use crate::service::{user_account, worker_account, Payout};

/// How many history lines to return.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Latest lines to return (default 100, at most 10,000).
    #[serde(default)]
    pub limit: Option<u32>,
    /// The wallet's history: continue with lines older than this one (the
    /// `next` of the previous page).
    #[serde(default)]
    pub before: Option<u64>,
}

fn read_query(q: Result<Query<HistoryQuery>, QueryRejection>) -> Result<HistoryQuery, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(format!("the query does not read: {e}")))?;
    match q.limit.unwrap_or(100) {
        0..=10_000 => Ok(q),
        _ => Err(ApiError::bad_request("return at most 10000 history lines").at("limit")),
    }
}

fn limit(q: Result<Query<HistoryQuery>, QueryRejection>) -> Result<u32, ApiError> {
    read_query(q).map(|q| q.limit.unwrap_or(100))
}

/// The calling owner's wallet: balance, payouts, and its history a page at a
/// time, newest first (the owner's key only).
#[utoipa::path(get, path = "/v1/wallet", tag = "wallet", security(("bearer" = [])), params(HistoryQuery),
    responses((status = 200, body = Wallet), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn wallet(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<Wallet>, ApiError> {
    let q = read_query(q)?;
    let mut w = app.seq.authed(bearer(&headers), |svc, _, who| svc.wallet(who)).await?;
    let (history, next) = wallet_history(&app, &w.owner, q.before, q.limit.unwrap_or(100)).await?;
    (w.history, w.next) = (history, next);
    Ok(Json(w))
}

/// A page of an owner's wallet history, newest first, before the line
/// `before`; and the `before` of the next page, if there is one.
pub async fn wallet_history(
    app: &AppState,
    owner: &str,
    before: Option<u64>,
    limit: u32,
) -> Result<(Vec<crate::service::Entry>, Option<u64>), ApiError> {
    let (store, account) = (app.store.clone(), worker_account(owner));
    let mut lines = tokio::task::spawn_blocking(move || store.history_page(&account, before, limit.saturating_add(1)))
        .await
        .map_err(|_| ApiError::unavailable("the read was interrupted: retry"))?
        .map_err(store_error)?;
    let next = (lines.len() > limit as usize).then(|| {
        lines.truncate(limit as usize);
        lines.last().map_or(0, |l| l.0)
    });
    Ok((lines.into_iter().map(|l| l.1).collect(), next))
}

/// Redeem ByteChips: the amount leaves the calling owner's wallet for the
/// pending-payout account until the operator pays or rejects it.
#[utoipa::path(post, path = "/v1/wallet/payouts", tag = "wallet", security(("bearer" = [])), request_body = PayoutRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY)),
    responses((status = 201, body = Payout), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError)))]
pub async fn request_payout(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<JsonBody<PayoutRequest>, ApiError>,
) -> Result<(StatusCode, Json<Payout>), ApiError> {
    let bearer = need_bearer(&headers)?;
    let JsonBody(req) = body?;
    let key = idempotency_key(&headers)?;
    let p = app.seq.authed(Some(bearer), move |svc, at, who| svc.request_payout(at, who, req, key.as_deref())).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// The calling owner's payouts, newest first.
#[utoipa::path(get, path = "/v1/wallet/payouts", tag = "wallet", security(("bearer" = [])), params(PayoutsQuery),
    responses((status = 200, body = PayoutList), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError)))]
pub async fn own_payouts(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<PayoutsQuery>, QueryRejection>,
) -> Result<Json<PayoutList>, ApiError> {
    list_payouts(app, headers, q, false).await
}

/// Every owner's payouts, newest first (the operator); `state=pending` lists
/// those to pay or reject.
#[utoipa::path(get, path = "/v1/payouts", tag = "wallet", security(("bearer" = [])), params(PayoutsQuery),
    responses((status = 200, body = PayoutList), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError)))]
pub async fn all_payouts(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<PayoutsQuery>, QueryRejection>,
) -> Result<Json<PayoutList>, ApiError> {
    list_payouts(app, headers, q, true).await
}

async fn list_payouts(
    app: AppState,
    headers: HeaderMap,
    q: Result<Query<PayoutsQuery>, QueryRejection>,
    operator: bool,
) -> Result<Json<PayoutList>, ApiError> {
    let bearer = need_bearer(&headers)?;
    let Query(q) = q.map_err(|e| ApiError::bad_request(format!("the query does not read: {e}")))?;
    app.seq
        .authed(Some(bearer), move |svc, _, who| {
            if operator != matches!(who, crate::service::Principal::Operator) {
                return Err(ApiError::forbidden(if operator {
                    "this route needs the operator key (owners list theirs at /v1/wallet/payouts)"
                } else {
                    "this route needs an owner's key (the operator lists payouts at /v1/payouts)"
                }));
            }
            svc.payouts(who, &q)
        })
        .await
        .map(Json)
}

/// Mark a pending payout paid, or rejected (its amount goes back to the
/// wallet). Marking it again as it is answers it unchanged.
#[utoipa::path(put, path = "/v1/payouts/{payout}", tag = "wallet", security(("bearer" = [])),
    params(("payout" = u64, Path, description = "the payout's id")), request_body = SettlePayout,
    responses((status = 200, body = Payout), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn settle_payout(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(payout): Path<String>,
    body: Result<JsonBody<SettlePayout>, ApiError>,
) -> Result<Json<Payout>, ApiError> {
    let bearer = need_bearer(&headers)?;
    let JsonBody(req) = body?;
    let id: u64 = payout
        .parse()
        .map_err(|_| ApiError::bad_request(format!("`{payout}` is not a payout id: a number")).at("payout"))?;
    app.seq.authed(Some(bearer), move |svc, at, who| svc.settle_payout(at, who, id, req)).await.map(Json)
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
