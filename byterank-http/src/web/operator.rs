//! The operator's page: the ledger's totals, the running jobs' pools and queue
//! depths, and the grid ranked (searchable, a page at a time) with a trust
//! switch per device.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::customer::{refused, to_sign_in};
use super::pages::{count, job_href, page, respond, segment, shown_id, Nav};
use super::session::Session;
use crate::api::{GridQuery, LedgerView, PoolsView, RankedView};
use crate::error::ApiError;
use crate::routes::AppState;

/// Devices per page.
const PAGE: usize = 50;

/// Which devices to show.
#[derive(Debug, Default, Deserialize)]
pub struct GridPage {
    /// Only devices whose id contains this.
    #[serde(default)]
    pub q: String,
    /// The page, from 0.
    #[serde(default)]
    pub page: usize,
}

/// `/operator`: the ledger, the pools and the grid.
pub async fn grid_page(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<GridPage>, QueryRejection>,
) -> Response {
    let Some(s) = Session::from_headers(&headers) else { return to_sign_in() };
    let GridPage { q: search, page: n } = q.map(|Query(q)| q).unwrap_or_default();
    let n = n.min(1 << 20);
    let needle = search.clone();
    let got = app
        .seq
        .authed(Some(s.key.clone()), move |svc, _, who| {
            let grid = svc.grid(who, &GridQuery { top: Some(100_000) })?;
            let matching: Vec<RankedView> = grid.ranked.into_iter().filter(|d| d.id.contains(&needle)).collect();
            let total = matching.len();
            let shown: Vec<RankedView> = matching.into_iter().skip(n * PAGE).take(PAGE).collect();
            Ok((svc.ledger(who)?, svc.pools(who)?, grid.devices, grid.active, total, shown))
        })
        .await;
    let (ledger, pools, devices, active, total, shown): (LedgerView, Vec<PoolsView>, u32, u32, usize, Vec<RankedView>) =
        match got {
            Ok(v) => v,
            Err(e) => return refused(e, &s, &headers),
        };
    let more = (n + 1) * PAGE < total;
    let link = |p: usize| format!("/operator?q={}&page={p}", segment(&search));
    let body = html! {
        section.card {
            h2 { "Ledger" }
            dl.facts #ledger {
                dt { "Charged" } dd { (count(ledger.charged)) }
                dt { "Workers' wallets" } dd { (count(ledger.wallets)) }
                dt { "Refunded" } dd { (count(ledger.refunded)) }
                dt { "Platform" } dd { (count(ledger.platform)) }
                dt { "Escrow" } dd { (count(ledger.escrow)) }
                dt { "Conserves" } dd { @if ledger.conserves { "yes" } @else { strong.error { "NO" } } }
            }
            p.muted { "Prometheus metrics: " a href="/metrics" { "/metrics" } " (send the operator key as a bearer token)." }
        }
        (super::accounts::forms(&s.csrf))
        section.card {
            h2 { "Running jobs" }
            @if pools.is_empty() { p { "None." } } @else {
                div.scroll { table {
                    thead { tr { th { "Job" } th.num { "Pools" } th.num { "Queued copies" } th.num { "Running" } th.num { "Open tasks" } } }
                    tbody { @for p in &pools { tr {
                        td { a.id href=(job_href(&p.job)) { (shown_id(&p.job)) } }
                        td.num { (p.pools) } td.num { (count(p.queued)) } td.num { (p.running) } td.num { (p.open) }
                    } } }
                } }
            }
        }
        section.card {
            h2 { "Grid" }
            p { (count(devices.into())) " live devices, " (count(active.into())) " ranked." }
            form.search method="get" action="/operator" role="search" {
                label for="q" { "Device id contains" }
                input #q type="search" name="q" value=(search);
                button type="submit" { "Search" }
            }
            div.scroll { table #grid {
                thead { tr { th.num { "Rank" } th { "Device" } th.num { "Capacity" } th.num { "Fault rate" } th { "Flags" } th { "Trusted" } } }
                tbody { @for d in &shown { tr {
                    td.num { @if d.rank == 0 { "—" } @else { (d.rank) } }
                    td { (shown_id(&d.id)) }
                    td.num { (format!("{:.1}", d.capacity)) }
                    td.num { (format!("{:.3}", d.fault_rate)) }
                    td { (d.flags.join(", ")) }
                    td {
                        form.inline method="post" action={ "/operator/devices/" (segment(&d.id)) "/trust" } {
                            input type="hidden" name="csrf" value=(s.csrf);
                            input type="hidden" name="trusted" value=(if d.trusted { "false" } else { "true" });
                            input type="hidden" name="q" value=(search);
                            input type="hidden" name="page" value=(n);
                            @if d.trusted { "yes " button.secondary type="submit" { "Distrust" } }
                            @else { "no " button type="submit" { "Trust" } }
                        }
                    }
                } } }
            } }
            p.pager {
                @if n > 0 { a href=(link(n - 1)) rel="prev" { "Previous" } " " }
                "Devices " (count((n * PAGE + usize::from(!shown.is_empty())) as u64)) "–" (count((n * PAGE + shown.len()) as u64))
                " of " (count(total as u64))
                @if more { " " a href=(link(n + 1)) rel="next" { "Next" } }
            }
        }
    };
    respond(StatusCode::OK, page("Operator", Some(&s), Nav::Operator, body))
}

/// The trust switch's form.
#[derive(Debug, Deserialize)]
pub struct TrustForm {
    /// The session's CSRF token.
    pub csrf: String,
    /// The new setting.
    pub trusted: bool,
    /// The search to go back to.
    #[serde(default)]
    pub q: String,
    /// The page to go back to.
    #[serde(default)]
    pub page: usize,
}

/// `POST /operator/devices/{device}/trust`: set or clear trust, then back.
pub async fn set_trust(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(device): Path<String>,
    Form(form): Form<TrustForm>,
) -> Response {
    let Some(s) = Session::from_headers(&headers) else { return to_sign_in() };
    if !s.csrf_ok(Some(&form.csrf)) {
        return refused(ApiError::forbidden("the form's CSRF token is stale: reload the page"), &s, &headers);
    }
    let trusted = form.trusted;
    let set = app.seq.authed(Some(s.key.clone()), move |svc, at, who| svc.set_trust(at, who, &device, trusted)).await;
    match set {
        Ok(_) => Redirect::to(&format!("/operator?q={}&page={}", segment(&form.q), form.page)).into_response(),
        Err(e) => refused(e, &s, &headers),
    }
}
