//! The web app served at `/`: the Computing Platform for customers (sign in,
//! submit and follow jobs, download outputs, billing and usage) and the
//! operator's view of the grid and the payouts; and the Worker App for worker
//! owners (their devices, wallet and payouts).
//!
//! Pages are rendered on the server (maud escapes every value); a small plain
//! script (`static/app.js`) drives the job form (quote, create, upload with a
//! progress bar) and refreshes a running job's page. Every page is sent with a
//! strict Content-Security-Policy: scripts and styles only from the app's own
//! files, nothing inline, no frames. How a browser signs in is in [`session`].

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post, put};
use axum::Router;

use crate::routes::AppState;
use crate::service::Principal;

mod accounts;
mod actions;
mod chart;
mod customer;
mod operator;
pub mod pages;
pub mod session;
mod settle;
mod worker;

/// The Content-Security-Policy of every page and file of the app.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The app's routes (merged into the API's router by [`crate::server::router`]).
pub fn router(max_input_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", post(session::sign_in))
        .route("/logout", post(session::sign_out))
        .route("/jobs", get(customer::jobs_page))
        .route("/new-job", get(customer::new_job_page))
        .route("/jobs/{job}", get(customer::job_page))
        .route("/jobs/{job}/output", get(actions::output))
        .route("/jobs/{job}/cancel", post(actions::cancel))
        .route("/billing", get(customer::billing_page))
        .route("/operator", get(operator::grid_page))
        .route("/operator/devices/{device}/trust", post(operator::set_trust))
        .route("/operator/payouts/{payout}", post(settle::settle))
        .route("/operator/metrics", get(operator::metrics))
        .route("/wallet", get(worker::wallet_page))
        .route("/wallet/payouts", post(worker::request_payout))
        .route("/operator/users", post(accounts::open))
        .route("/operator/top-ups", post(accounts::top_up))
        .route("/web/quote", post(actions::quote))
        .route("/web/jobs", post(actions::create))
        .route("/web/jobs/{job}/input", put(actions::upload).layer(DefaultBodyLimit::max(max_input_bytes)))
        .route("/static/app.js", get(script))
        .route("/static/app.css", get(style))
        .layer(axum::middleware::from_fn(security_headers))
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

/// `/`: the sign-in page, or the signed-in user's jobs (the operator's grid).
async fn home(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(s) = session::Session::from_headers(&headers) {
        match app.seq.authed(Some(s.key.clone()), |_, _, who| Ok(who.clone())).await {
            Ok(Principal::Operator) => return Redirect::to("/operator").into_response(),
            Ok(Principal::User(_)) => return Redirect::to("/jobs").into_response(),
            Ok(Principal::Owner(_)) => return Redirect::to("/wallet").into_response(),
            _ => {}
        }
    }
    pages::sign_in_page("", &headers, StatusCode::OK)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("static/app.js"))
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", include_str!("static/app.css"))
}
