//! The operator's page: the ledger's totals, the running jobs' pools and queue
//! depths, and the grid as the engine ranked it at its last refresh (searchable,
//! a page at a time) with a trust switch per device.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::customer::{refused, to_sign_in};
use super::pages::{count, job_href, page, respond, segment, shown_id, Nav};
use super::session::Session;
use byterank_core::capacity::capacity_score;
use byterank_core::flags::flags;
use byterank_core::{Device, DeviceView};

use crate::api::{LedgerView, PoolsView, RankedView};
use crate::error::ApiError;
use crate::routes::AppState;
use crate::service::Service;

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
            let (ledger, pools, payouts) = (svc.ledger(who)?, svc.pools(who)?, super::settle::lists(svc, who)?);
            let (devices, active, total, shown) = grid_page_of(svc, &needle, n);
            Ok((ledger, pools, payouts, (devices, active, total, shown)))
        })
        .await;
    type Grid = (u32, u32, usize, Vec<RankedView>);
    let (ledger, pools, (pending, latest), (devices, active, total, shown)): (LedgerView, Vec<PoolsView>, _, Grid) =
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
                dt { "Payouts pending" } dd #ledger-pending { (count(ledger.pending_payouts)) }
                dt { "Paid out" } dd #ledger-paid { (count(ledger.paid_out)) }
                dt { "Refunded" } dd { (count(ledger.refunded)) }
                dt { "Platform" } dd { (count(ledger.platform)) }
                dt { "Escrow" } dd { (count(ledger.escrow)) }
                dt { "Conserves" } dd { @if ledger.conserves { "yes" } @else { strong.error { "NO" } } }
            }
            p.muted { "Prometheus metrics: " a href="/operator/metrics" { "in the browser" } " (this session), or "
                code { "/metrics" } " with the operator key as a bearer token (for a scraper)." }
        }
        (super::settle::section(&s.csrf, &pending, &latest))
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

/// One page of the grid as the engine ranked it at its last refresh (ranked
/// devices by rank, then flagged ones by id), filtered by `needle`: the live
/// devices, the ranked ones, the matching ones, and the page's lines. Only the
/// page's devices are sorted and have their indexes computed, so a page costs a
/// pass over the devices and a selection, not a ranking of the grid.
fn grid_page_of(svc: &Service, needle: &str, page: usize) -> (u32, u32, usize, Vec<RankedView>) {
    let engine = svc.engine();
    let mut rows: Vec<(u32, &Device)> = Vec::new();
    let (mut devices, mut active) = (0u32, 0u32);
    // Handle order: the window is put in (rank, id) order below.
    for (h, d) in engine.live_devices_by_handle() {
        let rank = engine.rank(h);
        devices += 1;
        active += u32::from(rank > 0);
        if d.id.contains(needle) {
            rows.push((rank, d));
        }
    }
    // Only the page's window is put in order: select its ends, sort within.
    let order = |a: &(u32, &Device), b: &(u32, &Device)| (a.0 == 0, a.0, &a.1.id).cmp(&(b.0 == 0, b.0, &b.1.id));
    let start = page.saturating_mul(PAGE).min(rows.len());
    let end = (start + PAGE).min(rows.len());
    if start < rows.len() {
        rows.select_nth_unstable_by(start, order);
        let rest = &mut rows[start..];
        if end - start < rest.len() {
            rest.select_nth_unstable_by(end - start, order);
        }
        rows[start..end].sort_unstable_by(order);
    }
    let cfg = &engine.config().index;
    let now = engine.now();
    let lines = rows[start..end]
        .iter()
        .map(|(rank, d)| RankedView {
            rank: *rank,
            id: d.id.clone(),
            capacity: capacity_score(*d, &cfg.capacity),
            fault_rate: d.faults().fault_rate(),
            lottery_winner: d.lottery_winner(),
            trusted: d.trusted,
            flags: flags(*d, now, &cfg.flags).iter().map(|f| f.name().to_string()).collect(),
        })
        .collect();
    (devices, active, rows.len(), lines)
}

/// `/operator/metrics`: the Prometheus metrics, for the operator's session
/// (a browser sends no bearer key to `/metrics`).
pub async fn metrics(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let Some(s) = Session::from_headers(&headers) else { return to_sign_in() };
    let operator = app
        .seq
        .authed(Some(s.key.clone()), |_, _, who| match who {
            crate::service::Principal::Operator => Ok(()),
            _ => Err(ApiError::forbidden("the metrics are the operator's: sign in with the operator key")),
        })
        .await;
    if let Err(e) = operator {
        return refused(e, &s, &headers);
    }
    let body = app.metrics.as_ref().map(|m| m.render()).unwrap_or_default();
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("text/plain; version=0.0.4"));
    h.insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    resp
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CreateOwner, GridQuery, RegisterDevice};
    use crate::auth::Secret;
    use crate::service::{Op, Principal};
    use byterank_core::{EngineConfig, Timestamp};
    use rand::{Rng, SeedableRng};

    /// Pages of the engine's last ranking, against the API's full re-ranking of
    /// the same unchanged grid, filtered and paged by the test.
    #[test]
    fn pages_match_a_full_ranking_of_the_grid() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut svc = Service::new(EngineConfig::default()).unwrap();
        let at = Timestamp(1_800_000_000_000);
        let owner = Principal::Owner("o".into());
        svc.create_owner(at, None, CreateOwner { owner: "o".into() }, Secret::generate()).unwrap();
        for i in 0..173 {
            let mut d = Device::new(format!("d{i:03}"));
            d.ram_available_mb = Some(rng.random_range(100.0..16_000.0));
            if i % 17 == 0 {
                d.online = Some(false);
            }
            let req = RegisterDevice { device: d, owner: "o".into() };
            svc.register_device(at, Some(&owner), req, Secret::generate()).unwrap();
        }
        svc.apply(Timestamp(at.millis() + 60_000), &Op::Tick).unwrap();
        let full = svc.grid(&Principal::Operator, &GridQuery { top: Some(100_000) }).unwrap();
        assert!(full.ranked.iter().any(|d| d.rank == 0) && full.active > 100, "flagged and ranked devices");
        for needle in ["", "1", "d00", "none"] {
            let expected: Vec<&RankedView> = full.ranked.iter().filter(|d| d.id.contains(needle)).collect();
            for page in 0..5 {
                let (devices, active, total, lines) = grid_page_of(&svc, needle, page);
                assert_eq!((devices, active, total), (full.devices, full.active, expected.len()));
                let want: Vec<RankedView> =
                    expected.iter().skip(page * PAGE).take(PAGE).map(|d| (*d).clone()).collect();
                assert_eq!(format!("{lines:?}"), format!("{want:?}"), "needle {needle:?}, page {page}");
            }
        }
    }
}
