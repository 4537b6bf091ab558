//! What the journal holds: one [`Op`] per acknowledged write, in order, each
//! already authorised and carrying everything it needs (secrets only as hashes,
//! result metadata already computed), so that applying the same ops to the same
//! state gives the same state.

use byterank_core::worker::WorkerPrefs;
use byterank_core::{AttemptId, ByteChips, Device, JobSpec, ResultMeta, Timestamp};
use serde::{Deserialize, Serialize};

use crate::auth::KeyRecord;

/// One journalled write.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum Op {
    /// The operator opened an account for a user, with this API key.
    CreateUser {
        /// The user.
        user: String,
        /// Their API key.
        key: KeyRecord,
    },
    /// A worker owner's account was opened, with this key.
    CreateOwner {
        /// The owner.
        owner: String,
        /// Their key.
        key: KeyRecord,
    },
    /// The operator credited a user's ByteChip balance.
    TopUp {
        /// The user.
        user: String,
        /// What was credited.
        amount: ByteChips,
        /// The request's `Idempotency-Key`: a retry under it gets the first
        /// answer (kept in the state) and changes nothing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// A device joined, with a new token; or came back under its id (no new token).
    RegisterDevice {
        /// Its state.
        device: Device,
        /// Who is paid for its work.
        owner: String,
        /// Its token, when it is new to the service.
        key: Option<KeyRecord>,
    },
    /// A device reported its state (the worker preferences it set are kept).
    UpdateDevice {
        /// Its new state.
        device: Device,
    },
    /// A worker set its device's preferences (Table 3).
    SetPreferences {
        /// The device id.
        device: String,
        /// The preferences.
        prefs: WorkerPrefs,
    },
    /// A device left.
    RemoveDevice {
        /// The device id.
        device: String,
    },
    /// The operator set or withdrew a device's trust.
    SetTrust {
        /// The device id.
        device: String,
        /// Trusted from now on, or not.
        trusted: bool,
    },
    /// A user created a job; it is submitted now, or once its input is stored.
    CreateJob {
        /// The job file.
        job: JobSpec,
        /// Who pays.
        user: String,
        /// The request's `Idempotency-Key`: a retry under it gets the first
        /// answer (kept in the state) and changes nothing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// A job's input was stored (blob `input/<job>`): the job is submitted.
    StoreInput {
        /// The job id.
        job: String,
        /// Its size, bytes.
        bytes: u64,
    },
    /// A user cancelled a job.
    CancelJob {
        /// The job id.
        job: String,
    },
    /// A device asked for a task.
    Pull {
        /// The device id.
        device: String,
        /// The request's `Idempotency-Key`: a retry under the same key gets the
        /// same assignment instead of a second one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// A device is still working on an attempt.
    Heartbeat {
        /// The device id.
        device: String,
        /// The attempt.
        attempt: AttemptId,
    },
    /// A device returned a result (its bytes, if any, in blob `result/<attempt>`).
    ReportResult {
        /// The device id.
        device: String,
        /// The attempt.
        attempt: AttemptId,
        /// What the service computed of the uploaded result.
        result: ResultMeta,
        /// The request's `Idempotency-Key`: a retry under it gets the first
        /// answer (kept in the state) and changes nothing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// A device reported that an attempt failed.
    ReportError {
        /// The device id.
        device: String,
        /// The attempt.
        attempt: AttemptId,
        /// The request's `Idempotency-Key`: a retry under it gets the first
        /// answer (kept in the state) and changes nothing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// A worker owner asked to redeem ByteChips: they leave the wallet for
    /// the pending-payout account.
    RequestPayout {
        /// The owner.
        owner: String,
        /// ByteChips.
        amount: u64,
        /// The request's `Idempotency-Key`: a retry under it gets the first
        /// answer (kept in the state) and changes nothing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// The operator paid a pending payout, or rejected it (back to the wallet).
    SettlePayout {
        /// The payout.
        payout: u64,
        /// Paid (`true`) or rejected.
        paid: bool,
    },
    /// Time passed.
    Tick,
    /// This node started serving after a stop (a restart, or a standby taking
    /// over): the time it could not hear workers is not held against them.
    Resume,
    /// Jobs that ended before this instant are forgotten: their books, and their
    /// outputs (retention, `--keep-ended-days`). Their ids may be used again.
    ForgetEnded {
        /// The instant.
        before: Timestamp,
    },
}

impl Op {
    /// A keyed write's caller, key and what it asked (see [`crate::service::Keyed`]).
    pub fn keyed(&self) -> Option<(String, &str, String)> {
        match self {
            Op::TopUp { user, amount, key: Some(k) } => {
                Some(("operator".into(), k, format!("top_up {} {user} {}", user.len(), amount.0)))
            }
            Op::CreateJob { job, user, key: Some(k) } => {
                let spec = serde_json::to_string(job).expect("a job serializes");
                Some((format!("user:{user}"), k, format!("create_job {spec}")))
            }
            Op::ReportResult { device, attempt, key: Some(k), .. } => {
                Some((format!("device:{device}"), k, format!("result {}", attempt.0)))
            }
            Op::ReportError { device, attempt, key: Some(k) } => {
                Some((format!("device:{device}"), k, format!("error {}", attempt.0)))
            }
            Op::RequestPayout { owner, amount, key: Some(k) } => {
                Some((format!("owner:{owner}"), k, format!("payout {amount}")))
            }
            _ => None,
        }
    }

    /// A short name, for metrics and the journal inspector.
    pub fn name(&self) -> &'static str {
        match self {
            Op::CreateUser { .. } => "create_user",
            Op::CreateOwner { .. } => "create_owner",
            Op::TopUp { .. } => "top_up",
            Op::RegisterDevice { .. } => "register_device",
            Op::UpdateDevice { .. } => "update_device",
            Op::SetPreferences { .. } => "set_preferences",
            Op::RemoveDevice { .. } => "remove_device",
            Op::SetTrust { .. } => "set_trust",
            Op::CreateJob { .. } => "create_job",
            Op::StoreInput { .. } => "store_input",
            Op::CancelJob { .. } => "cancel_job",
            Op::Pull { .. } => "pull",
            Op::Heartbeat { .. } => "heartbeat",
            Op::ReportResult { .. } => "report_result",
            Op::ReportError { .. } => "report_error",
            Op::RequestPayout { .. } => "request_payout",
            Op::SettlePayout { .. } => "settle_payout",
            Op::Tick => "tick",
            Op::Resume => "resume",
            Op::ForgetEnded { .. } => "forget_ended",
        }
    }
}
