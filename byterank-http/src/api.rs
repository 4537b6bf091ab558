//! The API's paths and bodies: what clients send and what the service answers.
//!
//! Devices, jobs and results are the core's own types, in the JSON of
//! `docs/formats.md`; the rest is defined here. Every type is in the OpenAPI
//! document served at `/openapi.json`.

use byterank_core::engine::Idle;
use byterank_core::{AttemptState, Chunk, Device};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::service::{Entry, JobState, Payout, PayoutState};

/// The paths, as the paper groups them (§3.1).
pub mod paths {
    /// Devices: register.
    pub const DEVICES: &str = "/v1/devices";
    /// Devices: the calling device's state (report status, leave).
    pub const DEVICE_STATUS: &str = "/v1/devices/me";
    /// Devices: the calling device's worker preferences (Table 3).
    pub const DEVICE_PREFERENCES: &str = "/v1/devices/me/preferences";
    /// Tasks: pull the next one.
    pub const PULL: &str = "/v1/tasks/pull";
    /// Tasks: the attempts the device holds.
    pub const HELD_TASKS: &str = "/v1/tasks/held";
    /// Tasks: an attempt's input chunk.
    pub const TASK_INPUT: &str = "/v1/tasks/{attempt}/input";
    /// Tasks: heartbeat.
    pub const TASK_HEARTBEAT: &str = "/v1/tasks/{attempt}/heartbeat";
    /// Tasks: upload the result.
    pub const TASK_RESULT: &str = "/v1/tasks/{attempt}/result";
    /// Tasks: report an error.
    pub const TASK_ERROR: &str = "/v1/tasks/{attempt}/error";
    /// Jobs: create.
    pub const JOBS: &str = "/v1/jobs";
    /// Jobs: quote (plan and price, nothing created).
    pub const QUOTE: &str = "/v1/jobs/quote";
    /// Jobs: status (GET), cancel (DELETE).
    pub const JOB: &str = "/v1/jobs/{job}";
    /// Jobs: upload the input.
    pub const JOB_INPUT: &str = "/v1/jobs/{job}/input";
    /// Jobs: download the assembled output.
    pub const JOB_OUTPUT: &str = "/v1/jobs/{job}/output";
    /// Wallet: the calling device's owner's ByteChips.
    pub const WALLET: &str = "/v1/wallet";
    /// Wallet: the calling owner's payouts (GET), or a new one (POST).
    pub const WALLET_PAYOUTS: &str = "/v1/wallet/payouts";
    /// Operators: every owner's payouts.
    pub const PAYOUTS: &str = "/v1/payouts";
    /// Operators: mark a payout paid or rejected.
    pub const PAYOUT: &str = "/v1/payouts/{payout}";
    /// Billing: the calling user's balance and history.
    pub const BILLING: &str = "/v1/billing";
    /// Billing: the calling user's spending per day and application.
    pub const USAGE: &str = "/v1/usage";
    /// Billing: credit a user (operator).
    pub const TOP_UPS: &str = "/v1/billing/top-ups";
    /// Operators: create a user.
    pub const USERS: &str = "/v1/users";
    /// Open a worker owner's account.
    pub const OWNERS: &str = "/v1/owners";
    /// Operators: the ranked grid.
    pub const GRID: &str = "/v1/grid";
    /// Operators: running jobs' pools and queues.
    pub const POOLS: &str = "/v1/grid/pools";
    /// Operators: where every ByteChip is.
    pub const LEDGER: &str = "/v1/ledger";
    /// Operators: set or clear a device's trust.
    pub const TRUST: &str = "/v1/devices/{device}/trust";
    /// Health.
    pub const HEALTH: &str = "/health";
    /// Prometheus metrics (operator).
    pub const METRICS: &str = "/metrics";
    /// The OpenAPI document.
    pub const OPENAPI: &str = "/openapi.json";

    /// Every path served.
    pub const ALL: &[&str] = &[
        DEVICES,
        DEVICE_STATUS,
        DEVICE_PREFERENCES,
        PULL,
        HELD_TASKS,
        TASK_INPUT,
        TASK_HEARTBEAT,
        TASK_RESULT,
        TASK_ERROR,
        JOBS,
        QUOTE,
        JOB,
        JOB_INPUT,
        JOB_OUTPUT,
        WALLET,
        WALLET_PAYOUTS,
        PAYOUTS,
        PAYOUT,
        BILLING,
        USAGE,
        TOP_UPS,
        USERS,
        OWNERS,
        GRID,
        POOLS,
        LEDGER,
        TRUST,
        HEALTH,
        METRICS,
        OPENAPI,
    ];
}

/// Register a device.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDevice {
    /// Its state: the grid file's device object (`docs/formats.md`).
    #[schema(value_type = Object)]
    pub device: Device,
    /// Whose wallet its rewards go to: the owner whose key registers it (if
    /// given, it must be that owner's name).
    #[serde(default)]
    pub owner: String,
}

/// Open a worker owner's account.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOwner {
    /// The owner's name (1 to 256 bytes, no control characters).
    pub owner: String,
}

/// A new owner and their key (shown once).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OwnerCreated {
    /// The owner.
    pub owner: String,
    /// Their key, for `Authorization: Bearer`: it registers their devices and
    /// reads their wallet.
    pub api_key: String,
}

/// A registered device and its token (shown once).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Registered {
    /// The device id.
    pub device: String,
    /// Its token, for `Authorization: Bearer`; absent when the device came back
    /// with the token it had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// A device as the engine knows it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DeviceView {
    /// Its state, with what the engine owns (trust, fault history).
    #[schema(value_type = Object)]
    pub device: Device,
    /// Its ByteRank at the last refresh (0: flagged or not yet ranked).
    pub rank: u32,
}

/// A pull's answer: a task, or why there is none.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Pulled {
    /// The task given, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Assignment>,
    /// Why there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub idle: Option<Idle>,
    /// When to ask again, milliseconds, when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// A task given to a device.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Assignment {
    /// The attempt, for every later call about it.
    pub attempt: u64,
    /// The job id.
    pub job: String,
    /// The task (chunk index).
    pub task: u32,
    /// Which copy.
    pub replica: u32,
    /// The application to run.
    pub application: String,
    /// The chunk: index, offset and length in the job's input.
    #[schema(value_type = Object)]
    pub chunk: Chunk,
    /// Whether the task reads its chunk (`GET /v1/tasks/{attempt}/input`).
    pub input: bool,
    /// Send a heartbeat at least this often, milliseconds.
    pub heartbeat_ms: i64,
}

/// A heartbeat's answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Beat {
    /// Keep working (`true`), or stop: the attempt ended.
    #[serde(rename = "continue")]
    pub keep_going: bool,
    /// How it ended, when it did (`cancelled`: the task was decided elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub state: Option<AttemptState>,
}

/// A result upload's answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Reported {
    /// The result was taken (`false`: it came after the deadline and the attempt
    /// went stale).
    pub accepted: bool,
}

/// Create a user.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// The user's name (1 to 256 bytes, no control characters).
    pub user: String,
}

/// A new user and their API key (shown once).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct UserCreated {
    /// The user.
    pub user: String,
    /// Their API key, for `Authorization: Bearer`.
    pub api_key: String,
}

/// Credit a user.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUp {
    /// The user.
    pub user: String,
    /// ByteChips to credit (at least 1).
    pub amount: u64,
}

/// A user's ByteChips.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Balance {
    /// The user.
    pub user: String,
    /// What they may spend now.
    pub available: u64,
    /// Every top-up, in all.
    pub topped_up: u64,
    /// Charged for jobs, in all.
    pub charged: u64,
    /// Refunded (unearned bounties of failed or cancelled jobs), in all.
    pub refunded: u64,
    /// Set aside for jobs waiting for their input.
    pub reserved: u64,
    /// The latest lines of their history, newest first.
    #[serde(default)]
    pub history: Vec<Entry>,
}

/// A worker's ByteChips.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Wallet {
    /// The owner.
    pub owner: String,
    /// What the wallet holds: earned, less payouts pending and paid.
    pub balance: u64,
    /// What their devices earned, in all.
    #[serde(default)]
    pub earned: u64,
    /// Payouts requested and not yet paid or rejected.
    #[serde(default)]
    pub pending: u64,
    /// Payouts paid, in all.
    #[serde(default)]
    pub paid_out: u64,
    /// Lines of history (rewards, payouts), newest first.
    #[serde(default)]
    pub history: Vec<Entry>,
    /// Pass as `before` for the next page of history; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

/// Redeem ByteChips from the calling owner's wallet.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutRequest {
    /// ByteChips (at least 1, at most the wallet's balance).
    pub amount: u64,
}

/// Mark a pending payout paid or rejected.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettlePayout {
    /// `paid`, or `rejected` (the amount goes back to the wallet).
    pub state: PayoutState,
}

/// Which payouts to list.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PayoutsQuery {
    /// Only this owner's (the operator; an owner sees only their own).
    #[serde(default)]
    pub owner: Option<String>,
    /// Only payouts in this state.
    #[serde(default)]
    #[param(value_type = Option<String>)]
    pub state: Option<PayoutState>,
    /// Payouts per page (default 50, at most 1,000).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Continue before this payout (the `next` of the previous page).
    #[serde(default)]
    pub before: Option<u64>,
}

/// Payouts, newest first.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PayoutList {
    /// This page.
    pub payouts: Vec<Payout>,
    /// Pass as `before` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

/// What a job would do now.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct QuoteView {
    /// Unique tasks.
    pub tasks: u32,
    /// Copies planned, replicas included.
    pub copies: u32,
    /// Pools it would use.
    pub pools: u32,
    /// Probability of joint failure of its copies as placed.
    pub pjf: f64,
    /// Whether its bound on the PJF is met.
    pub achievable: bool,
    /// Its price.
    pub price: u64,
    /// What the user may spend now.
    pub available: u64,
    /// The copies its replication asked for, those placed, on how many
    /// distinct devices, and what it does about the rest.
    pub replicas: ReplicasView,
}

/// What became of the copies a job's replication asked for.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReplicasView {
    /// Copies asked for, replicas included.
    pub asked: u32,
    /// Copies placed in pool queues.
    pub placed: u32,
    /// Copies no pool could hold (a task gets at most one copy per distinct
    /// device of the pools the job may use).
    pub unplaced: u32,
    /// The most copies asked for one task: the distinct devices that
    /// cross-check it.
    pub per_task: u32,
    /// Distinct devices in the pools the job may use.
    pub devices: u32,
    /// Tasks placed with fewer copies than asked.
    pub short_tasks: u32,
    /// `met` (every copy placed), `unverified` (the job runs with what was
    /// placed: its short tasks complete unverified, as `accept_unverified`
    /// asked) or `waiting` (the unplaced copies wait for devices until the
    /// job's `deadline_s`; its tasks reach a verdict only cross-checked) or
    /// `trusted` (fewer copies placed, but only trusted devices run the job:
    /// each of their results is verified).
    #[schema(value_type = String, example = "met")]
    pub status: byterank_core::engine::ReplicaStatus,
}

impl From<byterank_core::engine::Replicas> for ReplicasView {
    fn from(r: byterank_core::engine::Replicas) -> Self {
        ReplicasView {
            asked: r.asked,
            placed: r.placed,
            unplaced: r.unplaced,
            per_task: r.per_task,
            devices: r.devices,
            short_tasks: r.short_tasks,
            status: r.status,
        }
    }
}

/// A job's status.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    /// The job id.
    pub id: String,
    /// Where it is.
    pub state: JobState,
    /// The application.
    pub application: String,
    /// Its price.
    pub price: u64,
    /// Unique tasks (0 until it was accepted).
    pub tasks: u32,
    /// Tasks with a final verdict.
    pub done: u32,
    /// Tasks decided by one untrusted result.
    pub unverified: u32,
    /// Attempts running now.
    pub running: u32,
    /// Copies planned.
    pub copies: u32,
    /// PJF in force.
    pub pjf: f64,
    /// What became of the copies its replication asked for (once accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<ReplicasView>,
    /// ByteChips refunded.
    pub refunded: u64,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether its output can be downloaded.
    pub output: bool,
    /// Per-task progress (with `?tasks=true`), from `from`, at most `limit`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub progress: Vec<TaskView>,
}

/// One task's progress.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskView {
    /// The task.
    pub task: u32,
    /// `waiting`, `running` or `done`.
    pub state: String,
    /// Attempts running now.
    pub running: u32,
    /// Attempts given out (one per device that took a copy).
    pub attempts: u32,
}

/// Per-task progress paging.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// Include per-task progress.
    #[serde(default)]
    pub tasks: bool,
    /// First task to include.
    #[serde(default)]
    pub from: u32,
    /// Most tasks to include (at most 10,000; default 1,000).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Set or clear trust.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTrust {
    /// Trusted from now on, or not.
    pub trusted: bool,
}

/// One device in the ranked grid.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RankedView {
    /// ByteRank (0: flagged).
    pub rank: u32,
    /// The device id.
    pub id: String,
    /// Capacity score.
    pub capacity: f64,
    /// Fault rate.
    pub fault_rate: f64,
    /// Whether it won today's lottery.
    pub lottery_winner: bool,
    /// Trusted by the operator.
    pub trusted: bool,
    /// Threshold flags raised.
    pub flags: Vec<String>,
}

/// The ranked grid, best first (flagged devices last).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GridView {
    /// Live devices.
    pub devices: u32,
    /// Devices ranked (not flagged).
    pub active: u32,
    /// The devices, best first, at most `top`.
    pub ranked: Vec<RankedView>,
}

/// The `top` of a grid listing.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GridQuery {
    /// How many devices to list (default 100, at most 100,000).
    #[serde(default)]
    pub top: Option<u32>,
}

/// A running job's pools and queues.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PoolsView {
    /// The job id.
    pub job: String,
    /// Pools it uses.
    pub pools: u32,
    /// Copies waiting in its pool queues.
    pub queued: u64,
    /// Attempts running.
    pub running: u32,
    /// Tasks without a verdict.
    pub open: u32,
}

/// Where every ByteChip is (spec §13): `charged = wallets + pending_payouts +
/// paid_out + refunded + platform + escrow`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct LedgerView {
    /// Charged to users for jobs, in all.
    pub charged: u64,
    /// In workers' wallets: earned, less payouts pending and paid.
    pub wallets: u64,
    /// Payouts requested, waiting for the operator.
    #[serde(default)]
    pub pending_payouts: u64,
    /// Payouts paid, in all.
    #[serde(default)]
    pub paid_out: u64,
    /// Refunded to users, in all.
    pub refunded: u64,
    /// Of what workers earned, in all, what results nothing cross-checked
    /// earned (tasks decided by one untrusted result): never counted as
    /// verified work.
    #[serde(default)]
    pub earned_unverified: u64,
    /// The platform's revenue.
    pub platform: u64,
    /// Held for running jobs.
    pub escrow: u64,
    /// Whether the sums balance, and every owner's payouts add up to no more
    /// than they earned.
    pub conserves: bool,
}

/// Health.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// `leader`, or `standby` (which refuses writes).
    #[serde(default)]
    pub role: String,
    /// Ops journalled so far.
    pub journal_seq: u64,
    /// Live devices.
    pub devices: u32,
    /// Jobs running.
    pub running_jobs: u32,
}
