//! The Core System's state machine: the engine, plus what the service keeps beside
//! it (accounts, keys, job books, who holds which attempt).
//!
//! Every write is an [`Op`]. [`Service::apply`] is the only code that changes the
//! state, and it is a pure function of the state, the op and its instant: a
//! restart applies the journal's ops to the last snapshot and gets the same state.
//! While live, applying also collects what storage must do in the same commit as
//! the op ([`Effect`]s: store a result, assemble an output, write a history line);
//! replay skips those, because they were committed with the op.
//!
//! The routes call its API methods (`calls.rs`), which authorise the caller, check the
//! request, and record the op.

use std::collections::BTreeMap;

use byterank_core::{
    AttemptId, AttemptState, ByteChips, Command, CommandKind, Engine, EngineConfig, Event, JobId, Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

mod apps;
mod books;
mod calls;
mod keyed;
mod limits;
mod op;
mod payouts;

pub use apps::read_upload;
pub use books::{Ended, EndedJobs, Held, JobBook, JobState, KeyEntry, Principal, UserBook};
pub use calls::quote_view;
pub use keyed::{check_key, Keyed};
pub use limits::{task_count, WorkLimits};
pub use op::Op;
pub use payouts::{Out, Payout, PayoutState, Payouts};

/// Something storage does in the same commit as the ops that caused it.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Store a blob (an input, a result).
    Put {
        /// Its key.
        key: String,
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// Store the concatenation of these blobs, in order, under `into`.
    Concat {
        /// The new blob.
        into: String,
        /// The parts.
        parts: Vec<String>,
    },
    /// Delete these blobs.
    Delete(Vec<String>),
    /// Store the file at `path` (written and synced whole, off the engine's
    /// thread) as the blob `key`; the file is taken (moved or removed).
    Adopt {
        /// The blob.
        key: String,
        /// The staged file.
        path: std::path::PathBuf,
    },
    /// A line of a wallet's or a user's history.
    Entry(Entry),
}

/// A line of money history: what moved, for whom, why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Entry {
    /// `worker:<owner>` or `user:<user>`.
    pub account: String,
    /// When, milliseconds since the epoch.
    pub at: i64,
    /// `reward`, `charge`, `refund` or `top_up`; for a wallet also `payout`
    /// (the amount left it), `payout_paid` (it was paid out) or
    /// `payout_returned` (rejected: the amount came back).
    pub kind: String,
    /// The job, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// The task, for rewards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<u32>,
    /// The device whose work earned a reward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// ByteChips.
    pub amount: u64,
    /// The payout, for payout lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout: Option<u64>,
    /// A reward earned by a result nothing cross-checked (a task decided by
    /// one untrusted result): paid, but never counted as verified work.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unverified: bool,
}

/// The account name of a worker (device owner) in the history.
pub fn worker_account(owner: &str) -> String {
    format!("worker:{owner}")
}

/// The account name of a user in the history.
pub fn user_account(user: &str) -> String {
    format!("user:{user}")
}

/// The blob key of a job's input.
pub fn input_key(job: &str) -> String {
    format!("input/{job}")
}

/// The blob key of a job's output.
pub fn output_key(job: &str) -> String {
    format!("output/{job}")
}

/// The blob key of an attempt's uploaded result.
pub fn result_key(attempt: AttemptId) -> String {
    format!("result/{}", attempt.0)
}

/// The service's state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Service {
    engine: Engine,
    users: BTreeMap<String, UserBook>,
    /// Key id to key.
    keys: BTreeMap<String, KeyEntry>,
    /// Device id to its key id.
    device_keys: BTreeMap<String, String>,
    jobs: BTreeMap<String, JobBook>,
    /// Engine handle to job id, for running jobs.
    handles: BTreeMap<JobId, String>,
    ended: Ended,
    /// The first answers of writes under an `Idempotency-Key`.
    #[serde(default)]
    keyed: Keyed,
    /// Worker owners with accounts.
    #[serde(default)]
    owners: std::collections::BTreeSet<String>,
    /// Each device's last pull under an `Idempotency-Key` that was given a task:
    /// the key and the answer, for a retry whose first answer was lost.
    #[serde(default)]
    pulled: BTreeMap<String, (String, crate::api::Assignment)>,
    /// Ended jobs, oldest first, for retention.
    #[serde(default)]
    ended_jobs: EndedJobs,
    /// Jobs created, in all (each book keeps its place in this count).
    #[serde(default)]
    jobs_created: u64,
    /// Owners' payouts.
    #[serde(default)]
    payouts: Payouts,
    #[serde(skip)]
    pending: Pending,
    #[serde(skip)]
    events: Vec<Event>,
    /// The bytes of the upload being applied (an input, a result), stored with
    /// its op when the op is taken.
    #[serde(skip)]
    upload: Option<Vec<u8>>,
    /// The staged file of the input upload being applied.
    #[serde(skip)]
    staged: Option<std::path::PathBuf>,
    /// What one job may ask (configuration, not state: set at each start).
    #[serde(skip)]
    limits: WorkLimits,
}

/// What applying collected while live: ops to journal and effects to commit.
#[derive(Clone, Debug, Default)]
struct Pending {
    live: bool,
    ops: Vec<(Timestamp, Op)>,
    effects: Vec<Effect>,
}

impl Service {
    /// An empty service over an engine with this configuration.
    pub fn new(cfg: EngineConfig) -> Result<Service, byterank_core::engine::ConfigError> {
        Ok(Service {
            engine: Engine::new(cfg)?,
            users: BTreeMap::new(),
            keys: BTreeMap::new(),
            device_keys: BTreeMap::new(),
            jobs: BTreeMap::new(),
            handles: BTreeMap::new(),
            ended: Ended::default(),
            keyed: Keyed::default(),
            owners: Default::default(),
            pulled: BTreeMap::new(),
            ended_jobs: EndedJobs::default(),
            jobs_created: 0,
            payouts: Payouts::default(),
            pending: Pending::default(),
            events: Vec::new(),
            upload: None,
            staged: None,
            limits: WorkLimits::default(),
        })
    }

    /// Sets what one job may ask ([`WorkLimits`]); checked when a job is quoted
    /// or created, never in replay.
    pub fn set_limits(&mut self, limits: WorkLimits) {
        self.limits = limits;
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether applying collects ops and effects (live) or not (replay).
    pub fn set_live(&mut self, live: bool) {
        self.pending.live = live;
    }

    /// The ops and effects collected since the last call, in order.
    pub fn take_pending(&mut self) -> (Vec<(Timestamp, Op)>, Vec<Effect>) {
        (core::mem::take(&mut self.pending.ops), core::mem::take(&mut self.pending.effects))
    }

    /// The engine events of the last op applied.
    pub fn last_events(&self) -> &[Event] {
        &self.events
    }

    /// The id of a running job's engine handle.
    pub fn job_name(&self, job: JobId) -> Option<&str> {
        self.handles.get(&job).map(String::as_str)
    }

    /// Every job's id and book.
    pub fn job_books(&self) -> impl Iterator<Item = (&str, &JobBook)> {
        self.jobs.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Every user's id and book.
    pub fn user_books(&self) -> impl Iterator<Item = (&str, &UserBook)> {
        self.users.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Attempts of a job running now (none once it ended), as the engine has them.
    pub fn running_attempts(&self, book: &JobBook) -> u32 {
        book.handle.and_then(|h| self.engine.job_progress(h)).map_or(0, |p| p.running)
    }

    /// A job's book.
    pub fn job(&self, id: &str) -> Option<&JobBook> {
        self.jobs.get(id)
    }

    /// Applies an op (live or in replay). On error nothing changes.
    pub fn apply(&mut self, at: Timestamp, op: &Op) -> Result<(), ApiError> {
        let mark = self.pending.effects.len();
        self.events.clear();
        let r = self.apply_op(at, op);
        match r {
            Ok(()) => {
                self.observe(at);
                if let Op::Pull { device, key } = op {
                    // Kept once observed: the assignment needs the attempt's holder.
                    self.pulled.remove(device);
                    if let (Some(key), Some(task)) = (key, self.assigned()) {
                        self.pulled.insert(device.clone(), (key.clone(), task));
                    }
                }
                if let Some((caller, key, asked)) = op.keyed() {
                    let answer = self.answer_of(op);
                    self.keyed.put(at, &caller, key, asked, answer);
                }
                if self.pending.live {
                    self.pending.ops.push((at, op.clone()));
                }
                Ok(())
            }
            Err(e) => {
                self.pending.effects.truncate(mark);
                Err(e)
            }
        }
    }

    fn effect(&mut self, e: Effect) {
        if self.pending.live {
            self.pending.effects.push(e);
        }
    }

    fn engine_apply(&mut self, at: Timestamp, kind: CommandKind) -> Result<(), ApiError> {
        let cmd = Command { at, kind };
        let r = self.engine.apply(&cmd, &mut self.events);
        r.map_err(|e| self.engine_error(e))
    }

    fn apply_op(&mut self, at: Timestamp, op: &Op) -> Result<(), ApiError> {
        match op {
            Op::CreateUser { user, key } => {
                if self.users.contains_key(user) {
                    return Err(ApiError::conflict(format!("user `{user}` exists")).at("user"));
                }
                self.users.insert(user.clone(), UserBook::default());
                let entry = KeyEntry { record: key.clone(), principal: Principal::User(user.clone()) };
                self.keys.insert(key.kid.clone(), entry);
            }
            Op::CreateOwner { owner, key } => {
                if !self.owners.insert(owner.clone()) {
                    return Err(ApiError::conflict(format!("owner `{owner}` exists")).at("owner"));
                }
                let entry = KeyEntry { record: key.clone(), principal: Principal::Owner(owner.clone()) };
                self.keys.insert(key.kid.clone(), entry);
            }
            Op::TopUp { user, amount, .. } => {
                let book = self.users.get_mut(user).ok_or_else(|| unknown_user(user))?;
                book.topped_up = ByteChips(
                    book.topped_up
                        .0
                        .checked_add(amount.0)
                        .ok_or_else(|| ApiError::bad_request("the top-up would overflow the balance").at("amount"))?,
                );
                let e = Entry::new(user_account(user), at, "top_up", amount.0);
                self.effect(Effect::Entry(e));
            }
            Op::RegisterDevice { device, owner, key } => {
                self.engine_apply(at, CommandKind::RegisterDevice { device: device.clone(), owner: owner.clone() })?;
                if let Some(key) = key {
                    let entry = KeyEntry { record: key.clone(), principal: Principal::Device(device.id.clone()) };
                    self.keys.insert(key.kid.clone(), entry);
                    self.device_keys.insert(device.id.clone(), key.kid.clone());
                }
            }
            Op::UpdateDevice { device } => {
                let handle = self.device_handle(&device.id)?;
                let mut state = device.clone();
                state.worker = self.engine.device(handle).and_then(|d| d.worker.clone());
                self.engine_apply(at, CommandKind::UpdateDevice { device: handle, state })?;
            }
            Op::SetPreferences { device, prefs } => {
                let handle = self.device_handle(device)?;
                let mut state = self.engine.device(handle).cloned().ok_or_else(|| unknown_device(device))?;
                state.worker = Some(prefs.clone());
                self.engine_apply(at, CommandKind::UpdateDevice { device: handle, state })?;
            }
            Op::RemoveDevice { device } => {
                let handle = self.device_handle(device)?;
                self.engine_apply(at, CommandKind::RemoveDevice { device: handle })?;
                self.pulled.remove(device);
            }
            Op::SetTrust { device, trusted } => {
                let handle = self.device_handle(device)?;
                self.engine_apply(at, CommandKind::SetTrust { device: handle, trusted: *trusted })?;
            }
            Op::CreateJob { job, user, .. } => {
                if self.jobs.contains_key(&job.id) {
                    return Err(ApiError::conflict(format!("job `{}` exists: job ids are unique", job.id)).at("id"));
                }
                let available = self.available(user)?;
                if available < job.price_chips.0 {
                    return Err(ApiError::payment_required(format!(
                        "the job costs {} ByteChips and the balance is {available}: top up first",
                        job.price_chips.0
                    ))
                    .at("price_chips"));
                }
                let reads_input = self.engine.application(&job.application).is_some_and(|a| a.reads_input());
                if !reads_input {
                    self.engine_apply(at, CommandKind::SubmitJob { job: job.clone(), user: user.clone() })?;
                }
                let state = if reads_input { JobState::AwaitingInput } else { JobState::Running };
                if reads_input {
                    self.users.get_mut(user).expect("checked").reserved += job.price_chips;
                }
                let book =
                    JobBook { created_at: Some(at), number: self.jobs_created, ..JobBook::new(user, job, state) };
                self.jobs_created += 1;
                self.jobs.insert(job.id.clone(), book);
            }
            Op::StoreInput { job, bytes } => {
                let book = self.jobs.get(job).ok_or_else(|| unknown_job(job))?;
                if book.state != JobState::AwaitingInput {
                    return Err(ApiError::conflict(format!("job `{job}` does not wait for input")));
                }
                if book.spec.input_bytes != Some(*bytes) {
                    return Err(ApiError::bad_request(format!(
                        "the input is {bytes} bytes but the job says `input_bytes` = {}",
                        book.spec.input_bytes.map_or_else(|| "nothing".into(), |b| b.to_string())
                    ))
                    .at("input"));
                }
                let (spec, user) = (book.spec.clone(), book.user.clone());
                self.engine_apply(at, CommandKind::SubmitJob { job: spec, user: user.clone() })?;
                let price = book_price(&self.jobs[job]);
                self.unreserve(&user, price);
                let book = self.jobs.get_mut(job).expect("checked");
                book.state = JobState::Running;
                book.has_input = true;
                if let Some(bytes) = self.upload.take() {
                    self.effect(Effect::Put { key: input_key(job), bytes });
                } else if let Some(path) = self.staged.take() {
                    self.effect(Effect::Adopt { key: input_key(job), path });
                }
            }
            Op::CancelJob { job } => {
                let book = self.jobs.get(job).ok_or_else(|| unknown_job(job))?;
                match (book.state.clone(), book.handle) {
                    (JobState::AwaitingInput, _) => {
                        let (user, price) = (book.user.clone(), book_price(book));
                        self.unreserve(&user, price);
                        let book = self.jobs.get_mut(job).expect("checked");
                        book.state = JobState::Cancelled;
                        book.ended_at = Some(at);
                        self.ended_jobs.push(at, job);
                    }
                    (JobState::Running, Some(handle)) => {
                        self.engine_apply(at, CommandKind::CancelJob { job: handle })?;
                    }
                    _ => return Err(ApiError::conflict(format!("job `{job}` already ended"))),
                }
            }
            Op::Pull { device, .. } => {
                let device = self.device_handle(device)?;
                self.engine_apply(at, CommandKind::Pull { device })?;
            }
            Op::Heartbeat { device, attempt } => {
                let device = self.device_handle(device)?;
                self.engine_apply(at, CommandKind::Heartbeat { device, attempt: *attempt })?;
            }
            Op::ReportResult { device, attempt, result, .. } => {
                let device = self.device_handle(device)?;
                // Read before the report ends the attempt.
                let job = self.held(*attempt).map(|h| h.job);
                self.engine_apply(at, CommandKind::ReportResult { device, attempt: *attempt, result: result.clone() })?;
                let late = self.events.iter().any(|e| matches!(e, Event::LateReport { .. }));
                if let (false, Some(job)) = (late, job) {
                    if let Some(book) = self.jobs.get_mut(&job) {
                        book.results.push(*attempt);
                    }
                    if let Some(bytes) = self.upload.take() {
                        self.effect(Effect::Put { key: result_key(*attempt), bytes });
                    }
                }
            }
            Op::ReportError { device, attempt, .. } => {
                let device = self.device_handle(device)?;
                self.engine_apply(at, CommandKind::ReportError { device, attempt: *attempt })?;
            }
            Op::RequestPayout { .. } | Op::SettlePayout { .. } => self.apply_payout(at, op)?,
            Op::Tick => self.engine_apply(at, CommandKind::Tick)?,
            Op::Resume => self.engine_apply(at, CommandKind::Resume)?,
            Op::ForgetEnded { before } => {
                let mut outputs = Vec::new();
                while let Some(job) = self.ended_jobs.pop_before(*before) {
                    if self.jobs.remove(&job).is_some_and(|b| b.has_output) {
                        outputs.push(output_key(&job));
                    }
                }
                if !outputs.is_empty() {
                    self.effect(Effect::Delete(outputs));
                }
            }
        }
        Ok(())
    }

    /// What a keyed write answered, right after it was applied (live or in
    /// replay, so that the table is the same either way).
    fn answer_of(&self, op: &Op) -> serde_json::Value {
        let json = |v: Result<serde_json::Value, serde_json::Error>| v.expect("an answer serializes");
        match op {
            Op::TopUp { user, .. } => {
                self.balance_of(user).map_or(serde_json::Value::Null, |b| json(serde_json::to_value(b)))
            }
            Op::CreateJob { job, user, .. } => self
                .job_view(&Principal::User(user.clone()), &job.id, &crate::api::StatusQuery::default())
                .map_or(serde_json::Value::Null, |v| json(serde_json::to_value(v))),
            Op::RequestPayout { .. } => {
                self.payouts.last().map_or(serde_json::Value::Null, |p| json(serde_json::to_value(p)))
            }
            Op::ReportResult { .. } => {
                let late = self.events.iter().any(|e| matches!(e, Event::LateReport { .. }));
                json(serde_json::to_value(crate::api::Reported { accepted: !late }))
            }
            _ => serde_json::Value::Null,
        }
    }

    /// Keeps the books in step with what the engine decided.
    fn observe(&mut self, at: Timestamp) {
        let events = core::mem::take(&mut self.events);
        let mut ended = Vec::new();
        for e in &events {
            match e {
                Event::JobAccepted { job, id, tasks, copies, pjf, price, replicas, .. } => {
                    self.handles.insert(*job, id.clone());
                    let book = self.jobs.get_mut(id).expect("the service submits only jobs it booked");
                    book.handle = Some(*job);
                    book.tasks = *tasks;
                    book.copies = *copies;
                    book.pjf = *pjf;
                    book.replicas = Some(*replicas);
                    book.charged_at = Some(at);
                    let entry =
                        Entry { job: Some(id.clone()), ..Entry::new(user_account(&book.user), at, "charge", price.0) };
                    self.effect(Effect::Entry(entry));
                }
                Event::AttemptChanged { job, task, attempt, state, device, .. } if *state != AttemptState::Delayed => {
                    if let Some(book) = self.handles.get(job).and_then(|name| self.jobs.get_mut(name)) {
                        if matches!(state, AttemptState::Failed | AttemptState::Stale | AttemptState::Incorrect) {
                            book.failures += 1;
                        }
                    }
                    self.ended.insert(*attempt, *state, *device);
                }
                Event::TaskValidated { job, .. } => {
                    if let Some(book) = self.handles.get(job).and_then(|n| self.jobs.get_mut(n)) {
                        book.done += 1;
                    }
                }
                Event::PlanChanged { job, pjf, .. } => {
                    if let Some(book) = self.handles.get(job).and_then(|n| self.jobs.get_mut(n)) {
                        book.pjf = *pjf;
                    }
                }
                Event::RewardCredited { device, job, task, amount, unverified } => {
                    let owner = self.engine.owner(*device).unwrap_or_default().to_string();
                    let entry = Entry {
                        job: self.handles.get(job).cloned(),
                        task: Some(*task),
                        device: self.engine.device(*device).map(|d| d.id.clone()),
                        unverified: *unverified,
                        ..Entry::new(worker_account(&owner), at, "reward", amount.0)
                    };
                    self.effect(Effect::Entry(entry));
                }
                Event::Refunded { user, job, amount } => {
                    let name = self.handles.get(job).cloned();
                    if let Some(book) = name.as_ref().and_then(|n| self.jobs.get_mut(n)) {
                        book.refunded += *amount;
                    }
                    let entry = Entry { job: name, ..Entry::new(user_account(user), at, "refund", amount.0) };
                    self.effect(Effect::Entry(entry));
                }
                Event::JobCompleted { job, results, unverified } => {
                    let name = self.handles[job].clone();
                    let parts = results.iter().map(|a| result_key(*a)).collect();
                    self.effect(Effect::Concat { into: output_key(&name), parts });
                    let book = self.jobs.get_mut(&name).expect("booked");
                    book.state = JobState::Completed;
                    book.unverified = *unverified;
                    book.has_output = true;
                    ended.push(*job);
                }
                Event::JobFailed { job, reason } => {
                    let book = self.jobs.get_mut(&self.handles[job]).expect("booked");
                    book.state = JobState::Failed;
                    book.reason = Some(reason.clone());
                    ended.push(*job);
                }
                Event::JobCancelled { job } => {
                    self.jobs.get_mut(&self.handles[job]).expect("booked").state = JobState::Cancelled;
                    ended.push(*job);
                }
                _ => {}
            }
        }
        for job in ended {
            self.release(at, job);
        }
        self.events = events;
    }

    /// Forgets an ended job in the engine and drops what it no longer needs.
    fn release(&mut self, at: Timestamp, job: JobId) {
        let name = self.handles.remove(&job).expect("a running job has a name");
        let book = self.jobs.get_mut(&name).expect("booked");
        book.handle = None;
        book.ended_at = Some(at);
        self.ended_jobs.push(at, &name);
        let mut keys: Vec<String> = core::mem::take(&mut book.results).into_iter().map(result_key).collect();
        if core::mem::take(&mut book.has_input) {
            keys.push(input_key(&name));
        }
        self.effect(Effect::Delete(keys));
        let mut sink = Vec::new();
        self.engine
            .apply(&Command { at, kind: CommandKind::ReleaseJob { job } }, &mut sink)
            .expect("an ended job can be released");
    }

    fn unreserve(&mut self, user: &str, price: ByteChips) {
        let book = self.users.get_mut(user).expect("a job's user has a book");
        book.reserved = ByteChips(book.reserved.0.checked_sub(price.0).expect("a waiting job's price is reserved"));
    }

    fn device_handle(&self, id: &str) -> Result<byterank_core::DeviceId, ApiError> {
        self.engine.device_id(id).ok_or_else(|| unknown_device(id))
    }

    /// What a user may still spend: top-ups and refunds, less charges and
    /// reservations.
    fn available(&self, user: &str) -> Result<u64, ApiError> {
        let book = self.users.get(user).ok_or_else(|| unknown_user(user))?;
        let ledger = self.engine.ledger();
        let get = |m: &BTreeMap<String, ByteChips>| u128::from(m.get(user).map_or(0, |c| c.0));
        let plus = u128::from(book.topped_up.0) + get(&ledger.refunded);
        let minus = get(&ledger.charged) + u128::from(book.reserved.0);
        Ok(u64::try_from(plus.saturating_sub(minus)).unwrap_or(u64::MAX))
    }
}

fn book_price(book: &JobBook) -> ByteChips {
    book.spec.price_chips
}

impl JobBook {
    fn new(user: &str, spec: &byterank_core::JobSpec, state: JobState) -> JobBook {
        JobBook {
            user: user.into(),
            spec: spec.clone(),
            state,
            handle: None,
            tasks: 0,
            done: 0,
            copies: 0,
            pjf: 0.0,
            replicas: None,
            unverified: 0,
            results: Vec::new(),
            has_input: false,
            has_output: false,
            refunded: ByteChips(0),
            reason: None,
            ended_at: None,
            created_at: None,
            number: 0,
            charged_at: None,
            failures: 0,
        }
    }
}

impl Entry {
    fn new(account: String, at: Timestamp, kind: &str, amount: u64) -> Entry {
        Entry {
            account,
            at: at.millis(),
            kind: kind.into(),
            job: None,
            task: None,
            device: None,
            amount,
            payout: None,
            unverified: false,
        }
    }
}

fn unknown_user(user: &str) -> ApiError {
    ApiError::not_found(format!("no user `{user}`: the operator creates users")).at("user")
}

fn unknown_device(id: &str) -> ApiError {
    ApiError::not_found(format!("no device `{id}`: register it first")).at("device")
}

fn unknown_job(id: &str) -> ApiError {
    ApiError::not_found(format!("no job `{id}`")).at("job")
}
