//! The API as methods: each authorises its caller, checks the request, and records
//! an [`Op`] (or only reads). Routes are parsing and transport around these.

use byterank_core::engine::Idle;
use byterank_core::{AttemptId, ByteChips, Device, Event, JobSpec, Timestamp};

use super::*;
use crate::api::*;
use crate::auth::{self, KeyRecord, OperatorKey, Secret};
use crate::error::Handle;
use byterank_core::device::display_id;

/// A freshly made secret and what to keep of it (made outside the state machine,
/// which must stay deterministic).
pub type Fresh = (Secret, KeyRecord);

impl Service {
    /// Who a bearer credential speaks for.
    pub fn authenticate(&self, bearer: Option<&str>, operator: &OperatorKey) -> Result<Principal, ApiError> {
        let presented = bearer.ok_or_else(|| ApiError::unauthorized("send `Authorization: Bearer <key>`"))?;
        if operator.matches(presented) {
            return Ok(Principal::Operator);
        }
        let bad = || ApiError::unauthorized("the key does not verify: use the one the service gave you");
        let (kid, secret) = auth::split(presented).ok_or_else(bad)?;
        let entry = self.keys.get(kid).ok_or_else(bad)?;
        if !auth::verify(&entry.record, secret) {
            return Err(bad());
        }
        Ok(entry.principal.clone())
    }

    fn record(&mut self, at: Timestamp, op: Op) -> Result<(), ApiError> {
        self.apply(at, &op)
    }

    /// The engine's refusal as users read it: its handles named by the ids
    /// users know (`device `phone-7``, not `DeviceId(4)`).
    pub(super) fn engine_error(&self, e: byterank_core::EngineError) -> ApiError {
        let mut err = ApiError::engine(e);
        err.message = crate::error::name_handles(&err.message, |h| match h {
            Handle::Device(n) => self
                .engine
                .device(byterank_core::DeviceId(n))
                .map_or_else(|| "a device".into(), |d| format!("device `{}`", display_id(&d.id))),
            Handle::Job(n) => self
                .handles
                .get(&byterank_core::JobId(n))
                .map_or_else(|| "a job".into(), |j| format!("job `{}`", display_id(j))),
            Handle::Attempt(n) => format!("attempt {n}"),
        });
        err
    }

    /// The calling device and its handle, if it is live: a device that left
    /// answers 410 on every route until it registers again.
    fn live_device<'a>(&self, who: &'a Principal) -> Result<(&'a str, byterank_core::DeviceId), ApiError> {
        let me = device_of(who)?;
        let h = self.device_handle(me)?;
        if !self.engine.is_live(h) {
            return Err(ApiError::gone(format!(
                "device `{}` left the grid: register it again with its token (POST /v1/devices) to act",
                display_id(me)
            )));
        }
        Ok((me, h))
    }

    // Devices.

    /// Opens a worker owner's account: anyone may, for a name nobody has. A
    /// name that devices were paid under before owners had accounts is opened
    /// only by the operator (who knows whose it is).
    pub fn create_owner(
        &mut self,
        at: Timestamp,
        who: Option<&Principal>,
        req: CreateOwner,
        fresh: Fresh,
    ) -> Result<OwnerCreated, ApiError> {
        check_name(&req.owner, "owner")?;
        if self.owners.contains(&req.owner) {
            return Err(ApiError::conflict(format!("owner `{}` exists: choose another name", req.owner)).at("owner"));
        }
        let by_operator = matches!(who, Some(Principal::Operator));
        if !by_operator && self.paid_before_accounts(&req.owner) {
            return Err(ApiError::conflict(format!(
                "devices were paid as `{}` before owners had accounts: the operator opens this one",
                req.owner
            ))
            .at("owner"));
        }
        self.record(at, Op::CreateOwner { owner: req.owner.clone(), key: fresh.1 })?;
        Ok(OwnerCreated { owner: req.owner, api_key: fresh.0.expose().to_string() })
    }

    fn paid_before_accounts(&self, owner: &str) -> bool {
        self.engine.ledger().wallets.contains_key(owner)
            || self.engine.live_devices().any(|(h, _)| self.engine.owner(h) == Some(owner))
    }

    /// Registers a new device with its owner's key, or brings one back with its
    /// own token (to the owner it had).
    pub fn register_device(
        &mut self,
        at: Timestamp,
        who: Option<&Principal>,
        req: RegisterDevice,
        fresh: Fresh,
    ) -> Result<Registered, ApiError> {
        req.device.validate().map_err(|e| ApiError::bad_request(e.to_string()).at(format!("device.{}", e.field)))?;
        let id = req.device.id.clone();
        let known = self.device_keys.contains_key(&id);
        let (owner, key) = match (known, who) {
            (false, Some(Principal::Owner(o))) => {
                if !req.owner.is_empty() && req.owner != *o {
                    return Err(ApiError::forbidden(format!(
                        "the key is owner `{o}`'s: register devices for that owner only"
                    ))
                    .at("owner"));
                }
                (o.clone(), Some(fresh.1))
            }
            (false, Some(_)) => return Err(ApiError::forbidden("a new device is registered with its owner's key")),
            (false, None) => {
                return Err(ApiError::unauthorized(
                    "a new device is registered with its owner's key: send `Authorization: Bearer <owner key>` \
                     (POST /v1/owners opens an account)",
                ))
            }
            (true, Some(Principal::Device(d))) if *d == id => {
                let h = self.device_handle(&id)?;
                (self.engine.owner(h).unwrap_or_default().to_string(), None)
            }
            (true, _) => {
                return Err(ApiError::conflict(format!(
                    "device `{}` is registered: come back with its token, or choose another id",
                    byterank_core::device::display_id(&id)
                ))
                .at("device.id"))
            }
        };
        let token = key.is_some().then(|| fresh.0.expose().to_string());
        self.record(at, Op::RegisterDevice { device: req.device, owner, key })?;
        Ok(Registered { device: id, token })
    }

    /// A device reports its state; `device.id` must be its own.
    pub fn update_status(&mut self, at: Timestamp, who: &Principal, device: Device) -> Result<DeviceView, ApiError> {
        let (me, _) = self.live_device(who)?;
        if device.id != me {
            return Err(ApiError::forbidden(format!("the token is device `{me}`'s: report only its state")).at("id"));
        }
        device.validate().map_err(|e| ApiError::bad_request(e.to_string()).at(e.field))?;
        self.record(at, Op::UpdateDevice { device })?;
        self.device_view(who)
    }

    /// A worker sets its device's preferences (Table 3).
    pub fn set_preferences(
        &mut self,
        at: Timestamp,
        who: &Principal,
        prefs: byterank_core::worker::WorkerPrefs,
    ) -> Result<DeviceView, ApiError> {
        let device = self.live_device(who)?.0.to_string();
        self.record(at, Op::SetPreferences { device, prefs })?;
        self.device_view(who)
    }

    /// A device leaves (it may come back with its token).
    pub fn remove_device(&mut self, at: Timestamp, who: &Principal) -> Result<(), ApiError> {
        let device = self.live_device(who)?.0.to_string();
        self.record(at, Op::RemoveDevice { device })
    }

    /// The calling device as the engine knows it.
    pub fn device_view(&self, who: &Principal) -> Result<DeviceView, ApiError> {
        let (id, _) = self.live_device(who)?;
        self.view_of(id)
    }

    fn view_of(&self, id: &str) -> Result<DeviceView, ApiError> {
        let h = self.device_handle(id)?;
        let device = self.engine.device(h).cloned().ok_or_else(|| unknown_device(id))?;
        Ok(DeviceView { device, rank: self.engine.rank(h) })
    }

    // Tasks.

    /// The calling device asks for a task. A retry under the `key` of a pull
    /// that was given a task still running gets that task again, and changes
    /// nothing: the first answer may have been lost with the connection.
    pub fn pull(&mut self, at: Timestamp, who: &Principal, key: Option<&str>) -> Result<Pulled, ApiError> {
        let device = self.live_device(who)?.0.to_string();
        if let Some(key) = key {
            check_key(key)?;
            if let Some((k, task)) = self.pulled.get(&device) {
                let running = self.held(AttemptId(task.attempt)).is_some_and(|h| h.device == device);
                if k == key && running {
                    return Ok(Pulled { task: Some(task.clone()), idle: None, retry_after_ms: None });
                }
            }
        }
        self.record(at, Op::Pull { device, key: key.map(str::to_string) })?;
        if let Some(task) = self.assigned() {
            return Ok(Pulled { task: Some(task), idle: None, retry_after_ms: None });
        }
        let refresh_ms = self.engine.config().refresh_ms;
        for e in self.last_events() {
            if let Event::NoTask { reason, .. } = e {
                let wait = match reason {
                    Idle::Unranked | Idle::Flagged { .. } => refresh_ms,
                    Idle::HandsFull | Idle::NothingForIt => 1_000,
                };
                return Ok(Pulled { task: None, idle: Some(*reason), retry_after_ms: Some(wait as u64) });
            }
        }
        unreachable!("a pull either assigns a task or says why not")
    }

    /// The task the last op assigned, as its device is told of it.
    pub(super) fn assigned(&self) -> Option<Assignment> {
        self.last_events().iter().find_map(|e| {
            let Event::TaskAssigned { attempt, .. } = e else { return None };
            Some(self.assignment(*attempt, &self.held(*attempt).expect("assigned by the last op")))
        })
    }

    fn assignment(&self, attempt: AttemptId, held: &Held) -> Assignment {
        let book = &self.jobs[&held.job];
        let handle = book.handle.expect("a running job");
        let chunk = self.engine.job_chunk(handle, held.task).expect("a task of a running job");
        Assignment {
            attempt: attempt.0,
            job: held.job.clone(),
            task: held.task,
            replica: held.replica,
            application: book.spec.application.clone(),
            chunk,
            input: self.engine.application(&book.spec.application).is_some_and(|a| a.reads_input()),
            heartbeat_ms: (self.engine.config().t1_ms / 3).max(1),
        }
    }

    /// The attempts the calling device holds, as it was told of them: a worker
    /// that restarted resumes them at once instead of leaving them to their
    /// deadlines while they fill its slots.
    pub fn held_tasks(&self, who: &Principal) -> Result<Vec<Assignment>, ApiError> {
        let (_, handle) = self.live_device(who)?;
        let mut held: Vec<AttemptId> = self.engine.held(handle).collect();
        held.sort_unstable();
        Ok(held.into_iter().filter_map(|a| Some(self.assignment(a, &self.held(a)?))).collect())
    }

    /// A running attempt, as the engine holds it, by the ids the service uses.
    pub(super) fn held(&self, attempt: AttemptId) -> Option<Held> {
        let a = self.engine.attempt(attempt)?;
        let job = self.handles.get(&a.job)?.clone();
        let device = self.engine.device(a.device)?.id.clone();
        Some(Held { job, task: a.task, device, replica: a.replica })
    }

    /// The attempt the calling device holds. Another device's attempt, running
    /// or ended, is not found: nothing about it is told to anyone but its holder.
    fn held_by(&self, who: &Principal, attempt: AttemptId) -> Result<Held, ApiError> {
        let (me, handle) = self.live_device(who)?;
        match self.held(attempt) {
            Some(h) if h.device == me => Ok(h),
            _ => match self.ended.get_for(attempt, handle) {
                Some(state) => Err(ApiError::gone(format!(
                    "attempt {} ended ({}); nothing more is taken for it",
                    attempt.0,
                    state_name(state)
                ))),
                None => Err(ApiError::not_found(format!("device `{me}` holds no attempt {}", attempt.0)).at("attempt")),
            },
        }
    }

    /// Where an attempt's input chunk is: blob key, offset, length.
    pub fn input_of(&self, who: &Principal, attempt: AttemptId) -> Result<(String, u64, u64), ApiError> {
        let held = self.held_by(who, attempt)?;
        let book = &self.jobs[&held.job];
        if !book.has_input {
            return Err(ApiError::not_found(format!("job `{}` has no input: its tasks read none", held.job)));
        }
        let handle = book.handle.expect("a running job");
        let chunk = self.engine.job_chunk(handle, held.task).expect("a task of a running job");
        Ok((input_key(&held.job), chunk.offset, chunk.len))
    }

    /// The calling device is still working on `attempt`.
    pub fn heartbeat(&mut self, at: Timestamp, who: &Principal, attempt: AttemptId) -> Result<Beat, ApiError> {
        let (device, handle) = self.live_device(who)?;
        let device = device.to_string();
        if self.held(attempt).is_none_or(|h| h.device != device) {
            if let Some(state) = self.ended.get_for(attempt, handle) {
                return Ok(Beat { keep_going: false, state: Some(state) });
            }
            return Err(ApiError::not_found(format!("device `{device}` holds no attempt {}", attempt.0)).at("attempt"));
        }
        self.record(at, Op::Heartbeat { device, attempt })?;
        let state = self.ended.get(attempt);
        Ok(Beat { keep_going: state.is_none(), state })
    }

    /// The calling device uploads a result: bytes, or metadata as JSON, as the
    /// application takes it.
    pub fn report_result(
        &mut self,
        at: Timestamp,
        who: &Principal,
        attempt: AttemptId,
        body: &[u8],
        key: Option<&str>,
    ) -> Result<Reported, ApiError> {
        if let Some(first) = self.keyed_retry(who, attempt, key, true)? {
            return first;
        }
        let held = self.held_by(who, attempt)?;
        let book = &self.jobs[&held.job];
        let handle = book.handle.expect("a running job");
        let chunk = self.engine.job_chunk(handle, held.task).expect("a task of a running job");
        let app = self.engine.application(&book.spec.application).expect("a running job's application");
        if let Some(max) = app.max_result_bytes(&chunk).filter(|&max| body.len() as u64 > max) {
            return Err(ApiError::too_large(format!(
                "a `{}` result of a {}-byte chunk is at most {max} bytes",
                app.name(),
                chunk.len
            )));
        }
        let (result, bytes) = read_upload(app, body)?;
        let device = held.device.clone();
        self.upload = Some(bytes);
        let r = self.record(at, Op::ReportResult { device, attempt, result, key: key.map(str::to_string) });
        self.upload = None;
        r?;
        let late = self.last_events().iter().any(|e| matches!(e, Event::LateReport { .. }));
        Ok(Reported { accepted: !late })
    }

    /// The first answer, if this result or error report under `key` was
    /// applied already (its attempt may have ended since).
    fn keyed_retry<T: serde::de::DeserializeOwned>(
        &self,
        who: &Principal,
        attempt: AttemptId,
        key: Option<&str>,
        result: bool,
    ) -> Result<Option<Result<T, ApiError>>, ApiError> {
        let device = self.live_device(who)?.0.to_string();
        let Some(k) = key else { return Ok(None) };
        let op = if result {
            // What a result asked is its attempt: its metadata is not part of it.
            Op::ReportResult { device, attempt, result: Default::default(), key: Some(k.into()) }
        } else {
            Op::ReportError { device, attempt, key: Some(k.into()) }
        };
        self.first_answer(&op)
    }

    /// Whether the caller may upload a result for `attempt` (checked before its
    /// body is read), and the most bytes that result may have (`None`: the
    /// route's limit; so for a retry under `key` of a result already taken).
    pub fn result_target(
        &self,
        who: &Principal,
        attempt: AttemptId,
        key: Option<&str>,
    ) -> Result<Option<u64>, ApiError> {
        if self.keyed_retry::<Reported>(who, attempt, key, true)?.is_some() {
            return Ok(None);
        }
        let held = self.held_by(who, attempt)?;
        let book = &self.jobs[&held.job];
        let handle = book.handle.expect("a running job");
        let chunk = self.engine.job_chunk(handle, held.task).expect("a task of a running job");
        let app = self.engine.application(&book.spec.application).expect("a running job's application");
        Ok(app.max_result_bytes(&chunk))
    }

    /// The calling device reports that an attempt failed; a retry under the
    /// same `key` changes nothing.
    pub fn report_error(
        &mut self,
        at: Timestamp,
        who: &Principal,
        attempt: AttemptId,
        key: Option<&str>,
    ) -> Result<(), ApiError> {
        if let Some(first) = self.keyed_retry::<serde_json::Value>(who, attempt, key, false)? {
            return first.map(drop);
        }
        let device = self.held_by(who, attempt)?.device.clone();
        self.record(at, Op::ReportError { device, attempt, key: key.map(str::to_string) })
    }

    // Billing and wallets.

    /// The operator opens an account.
    pub fn create_user(
        &mut self,
        at: Timestamp,
        who: &Principal,
        req: CreateUser,
        fresh: Fresh,
    ) -> Result<UserCreated, ApiError> {
        operator(who)?;
        check_name(&req.user, "user")?;
        self.record(at, Op::CreateUser { user: req.user.clone(), key: fresh.1 })?;
        Ok(UserCreated { user: req.user, api_key: fresh.0.expose().to_string() })
    }

    /// The operator credits a user. A retry under the same `key` answers what
    /// the first try did and credits nothing.
    pub fn top_up(
        &mut self,
        at: Timestamp,
        who: &Principal,
        req: TopUp,
        key: Option<&str>,
    ) -> Result<Balance, ApiError> {
        operator(who)?;
        if req.amount == 0 {
            return Err(ApiError::bad_request("a top-up credits at least 1 ByteChip").at("amount"));
        }
        let op = Op::TopUp { user: req.user.clone(), amount: ByteChips(req.amount), key: key.map(str::to_string) };
        if let Some(first) = self.first_answer(&op)? {
            return first;
        }
        self.record(at, op)?;
        self.balance_of(&req.user)
    }

    /// The first answer of a keyed write that was applied already, if `op` is
    /// its retry.
    pub(super) fn first_answer<T: serde::de::DeserializeOwned>(
        &self,
        op: &Op,
    ) -> Result<Option<Result<T, ApiError>>, ApiError> {
        let Some((caller, key, asked)) = op.keyed() else { return Ok(None) };
        check_key(key)?;
        Ok(self.keyed.get(&caller, key, &asked)?.map(|v| {
            serde_json::from_value(v.clone())
                .map_err(|e| ApiError::unavailable(format!("the kept answer does not read: {e}")))
        }))
    }

    /// The calling user's balance (the history is added by the route).
    pub fn balance(&self, who: &Principal) -> Result<Balance, ApiError> {
        let user = user_of(who)?;
        self.balance_of(user)
    }

    pub(super) fn balance_of(&self, user: &str) -> Result<Balance, ApiError> {
        let book = self.users.get(user).ok_or_else(|| unknown_user(user))?;
        let ledger = self.engine.ledger();
        let get = |m: &BTreeMap<String, ByteChips>| m.get(user).map_or(0, |c| c.0);
        Ok(Balance {
            user: user.into(),
            available: self.available(user)?,
            topped_up: book.topped_up.0,
            charged: get(&ledger.charged),
            refunded: get(&ledger.refunded),
            reserved: book.reserved.0,
            history: Vec::new(),
        })
    }

    /// The calling owner's wallet (the history is added by the route): it
    /// answers only to the owner's key, not to a device's token.
    pub fn wallet(&self, who: &Principal) -> Result<Wallet, ApiError> {
        let Principal::Owner(owner) = who else {
            return Err(ApiError::forbidden("the wallet answers to its owner's key only"));
        };
        let out = self.payout_book().out(owner);
        let (balance, earned) = (self.redeemable(owner), self.earned(owner));
        Ok(Wallet {
            owner: owner.clone(),
            balance,
            earned,
            pending: out.pending,
            paid_out: out.paid,
            ..Wallet::default()
        })
    }

    // Jobs.

    /// What the job would do now, for a user who can pay for it.
    pub fn quote(&self, at: Timestamp, who: &Principal, spec: &JobSpec) -> Result<QuoteView, ApiError> {
        let (basis, available) = self.quote_basis(at, who, spec)?;
        let q = basis.quote(spec).map_err(ApiError::engine)?;
        Ok(quote_view(&q, available))
    }

    /// The checks of a quote (the caller, the limits, the balance: cheap) and
    /// what its planning needs, to plan away from the state's thread; with what
    /// the user may spend.
    pub fn quote_basis(
        &self,
        at: Timestamp,
        who: &Principal,
        spec: &JobSpec,
    ) -> Result<(byterank_core::engine::QuoteBasis, u64), ApiError> {
        let user = user_of(who)?;
        let available = self.available(user)?;
        self.admission_terms(spec, user)?;
        self.limits.check(spec, available, self.engine.config().plan.max_r)?;
        let basis = self.engine.quote_basis(spec, at).map_err(ApiError::engine)?;
        Ok((basis, available))
    }

    /// The engine's admission rules that need no split (a bounty of at least 1
    /// ByteChip a task, ...), before the service's own limits: every adapter
    /// refuses an unpaid job with the engine's one error.
    fn admission_terms(&self, spec: &JobSpec, user: &str) -> Result<(), ApiError> {
        self.engine.check_terms(spec, Some(user)).map_err(|e| ApiError::engine(e.into()))
    }

    /// The calling user creates a job; one whose tasks read input waits for it.
    /// A retry under the same `key` answers what the first try did.
    pub fn create_job(
        &mut self,
        at: Timestamp,
        who: &Principal,
        spec: JobSpec,
        key: Option<&str>,
    ) -> Result<JobView, ApiError> {
        let user = user_of(who)?.to_string();
        if let Some(k) = key {
            let op = Op::CreateJob { job: spec.clone(), user: user.clone(), key: Some(k.into()) };
            if let Some(first) = self.first_answer(&op)? {
                return first;
            }
        }
        if self.jobs.contains_key(&spec.id) {
            return Err(ApiError::conflict(format!("job `{}` exists: job ids are unique", spec.id)).at("id"));
        }
        if let Some(problem) = byterank_core::device::id_problem(&spec.id) {
            let id = byterank_core::device::display_id(&spec.id);
            return Err(ApiError::bad_request(format!("job id `{id}` {problem}")).at("id"));
        }
        self.admission_terms(&spec, &user)?;
        self.limits.check(&spec, self.available(&user)?, self.engine.config().plan.max_r)?;
        spec.work().map_err(|e| ApiError::bad_request(e.to_string()))?;
        let id = spec.id.clone();
        self.record(at, Op::CreateJob { job: spec, user, key: key.map(str::to_string) })?;
        self.job_view(who, &id, &StatusQuery::default())
    }

    /// The calling user uploads a job's input: the job is submitted.
    pub fn store_input(
        &mut self,
        at: Timestamp,
        who: &Principal,
        job: &str,
        bytes: Vec<u8>,
    ) -> Result<JobView, ApiError> {
        self.users_job(who, job)?;
        let len = bytes.len() as u64;
        self.upload = Some(bytes);
        let r = self.record(at, Op::StoreInput { job: job.into(), bytes: len });
        self.upload = None;
        r?;
        self.job_view(who, job, &StatusQuery::default())
    }

    /// What an input upload for `job` must be, checked before its body is read:
    /// the job is the caller's and waits for exactly this many bytes.
    pub fn input_target(&self, who: &Principal, job: &str) -> Result<u64, ApiError> {
        let book = self.users_job(who, job)?;
        if book.state != JobState::AwaitingInput {
            return Err(ApiError::conflict(format!("job `{job}` does not wait for input")));
        }
        book.spec.input_bytes.ok_or_else(|| ApiError::conflict(format!("job `{job}` reads no input")))
    }

    /// The calling user's input for `job`, staged whole in the file at `path`
    /// (`len` bytes): the job is submitted, and the file becomes its input.
    pub fn store_input_file(
        &mut self,
        at: Timestamp,
        who: &Principal,
        job: &str,
        len: u64,
        path: std::path::PathBuf,
    ) -> Result<JobView, ApiError> {
        self.users_job(who, job)?;
        self.staged = Some(path);
        let r = self.record(at, Op::StoreInput { job: job.into(), bytes: len });
        self.staged = None;
        r?;
        self.job_view(who, job, &StatusQuery::default())
    }

    /// Retention, run by the server at each tick: forgets the jobs that ended
    /// more than `keep_ms` ago, with one journalled op when there are any.
    pub fn forget_ended(&mut self, at: Timestamp, keep_ms: i64) -> Result<(), ApiError> {
        let before = at.add_millis(keep_ms.saturating_neg());
        if self.ended_jobs.any_before(before) {
            self.record(at, Op::ForgetEnded { before })?;
        }
        Ok(())
    }

    /// The calling user cancels a job.
    pub fn cancel_job(&mut self, at: Timestamp, who: &Principal, job: &str) -> Result<JobView, ApiError> {
        self.users_job(who, job)?;
        self.record(at, Op::CancelJob { job: job.into() })?;
        self.job_view(who, job, &StatusQuery::default())
    }

    /// A job its user acts on (uploads its input, cancels it): only its user,
    /// not the operator, who may see any job but spends no one's ByteChips.
    fn users_job(&self, who: &Principal, job: &str) -> Result<&JobBook, ApiError> {
        user_of(who)?;
        self.own_job(who, job)
    }

    fn own_job(&self, who: &Principal, job: &str) -> Result<&JobBook, ApiError> {
        let book = self.jobs.get(job).ok_or_else(|| unknown_job(job))?;
        match who {
            Principal::Operator => Ok(book),
            Principal::User(u) if *u == book.user => Ok(book),
            // Another user's job is not theirs to see, not even to know of.
            Principal::User(_) => Err(unknown_job(job)),
            Principal::Device(_) | Principal::Owner(_) => Err(ApiError::forbidden("this route needs a user API key")),
        }
    }

    /// A job's status, for its user (or the operator).
    pub fn job_view(&self, who: &Principal, job: &str, q: &StatusQuery) -> Result<JobView, ApiError> {
        let book = self.own_job(who, job)?;
        let limit = q.limit.unwrap_or(1_000);
        if limit > 10_000 {
            return Err(ApiError::bad_request("list at most 10000 tasks at a time").at("limit"));
        }
        let progress = match book.handle.filter(|_| q.tasks) {
            Some(h) => (q.from..book.tasks.min(q.from.saturating_add(limit)))
                .filter_map(|task| {
                    let t = self.engine.task_copies(h, task)?;
                    let state = if t.decided {
                        "done"
                    } else if t.running > 0 {
                        "running"
                    } else {
                        "waiting"
                    };
                    Some(TaskView { task, state: state.into(), running: t.running, attempts: t.tried })
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(JobView {
            id: job.into(),
            state: book.state.clone(),
            application: book.spec.application.clone(),
            price: book.spec.price_chips.0,
            tasks: book.tasks,
            done: book.done,
            unverified: book.unverified,
            running: self.running_attempts(book),
            copies: book.copies,
            pjf: book.pjf,
            replicas: book.replicas.map(Into::into),
            refunded: book.refunded.0,
            reason: book.reason.clone(),
            output: book.has_output,
            progress,
        })
    }

    /// The blob key of a completed job's output.
    pub fn output_of(&self, who: &Principal, job: &str) -> Result<String, ApiError> {
        let book = self.own_job(who, job)?;
        if !book.has_output {
            let state = serde_json::to_value(&book.state).ok().and_then(|v| v.as_str().map(String::from));
            return Err(ApiError::conflict(format!(
                "job `{job}` has no output yet: it is {}",
                state.unwrap_or_else(|| "running".into())
            )));
        }
        Ok(output_key(job))
    }

    // Operators.

    /// The ranked grid, best first, then flagged devices.
    pub fn grid(&self, who: &Principal, q: &GridQuery) -> Result<GridView, ApiError> {
        operator(who)?;
        let top = q.top.unwrap_or(100);
        if top > 100_000 {
            return Err(ApiError::bad_request("list at most 100000 devices").at("top"));
        }
        // The engine's ranking in force, which pulls use and `/v1/devices/me`
        // reads: devices registered since its last refresh wait for the next.
        let ranking = self.engine.ranking();
        let line = |r: byterank_core::engine::RankedDevice| {
            let d = self.engine.device(r.device).expect("a ranked device is known");
            RankedView {
                rank: r.rank,
                id: d.id.clone(),
                capacity: r.indexes.capacity,
                fault_rate: r.indexes.fault_rate,
                lottery_winner: r.indexes.lottery_winner,
                trusted: d.trusted,
                flags: r.indexes.flags.iter().map(|f| f.name().to_string()).collect(),
            }
        };
        let (devices, active) = ranking.iter().fold((0, 0), |(n, a), r| (n + 1, a + u32::from(r.rank > 0)));
        let lines = ranking.iter().take(top as usize).map(line).collect();
        Ok(GridView { devices, active, ranked: lines })
    }

    /// Running jobs' pools and queues.
    pub fn pools(&self, who: &Principal) -> Result<Vec<PoolsView>, ApiError> {
        operator(who)?;
        Ok(self
            .handles
            .iter()
            .filter_map(|(h, name)| {
                let p = self.engine.job_progress(*h)?;
                Some(PoolsView {
                    job: name.clone(),
                    pools: p.pools,
                    queued: p.queued,
                    running: p.running,
                    open: p.open,
                })
            })
            .collect())
    }

    /// Each running job's queue depth and running attempts, for `/metrics`.
    pub fn job_queues(&self) -> Vec<crate::telemetry::JobQueues> {
        self.handles
            .iter()
            .filter_map(|(h, name)| {
                let p = self.engine.job_progress(*h)?;
                Some(crate::telemetry::JobQueues { job: name.clone(), queued: p.queued, running: p.running })
            })
            .collect()
    }

    /// The operator sets or clears a device's trust (spec §11b).
    pub fn set_trust(
        &mut self,
        at: Timestamp,
        who: &Principal,
        device: &str,
        trusted: bool,
    ) -> Result<DeviceView, ApiError> {
        operator(who)?;
        self.record(at, Op::SetTrust { device: device.into(), trusted })?;
        self.view_of(device)
    }

    /// Where every ByteChip is.
    pub fn ledger(&self, who: &Principal) -> Result<LedgerView, ApiError> {
        operator(who)?;
        let l = self.engine.ledger();
        let sum = |m: &BTreeMap<String, ByteChips>| m.values().map(|c| c.0).sum::<u64>();
        let out = self.payout_book().totals();
        Ok(LedgerView {
            charged: sum(&l.charged),
            wallets: sum(&l.wallets).saturating_sub(out.pending).saturating_sub(out.paid),
            pending_payouts: out.pending,
            paid_out: out.paid,
            refunded: sum(&l.refunded),
            earned_unverified: sum(&l.unverified),
            platform: l.platform.0,
            escrow: l.escrow.0,
            conserves: l.conserves() && self.payout_book().consistent(|o| self.earned(o)),
        })
    }

    /// Live devices and running jobs.
    pub fn counts(&self) -> (u32, u32) {
        (self.engine.live_devices_by_handle().count() as u32, self.handles.len() as u32)
    }
}

/// A quote as users see it.
pub fn quote_view(q: &byterank_core::engine::Quote, available: u64) -> QuoteView {
    QuoteView {
        tasks: q.tasks,
        copies: q.copies,
        pools: q.pools,
        pjf: q.pjf,
        achievable: q.achievable,
        price: q.price.0,
        available,
        replicas: q.replicas.into(),
    }
}

fn operator(who: &Principal) -> Result<(), ApiError> {
    match who {
        Principal::Operator => Ok(()),
        _ => Err(ApiError::forbidden("this route needs the operator key")),
    }
}

fn device_of(who: &Principal) -> Result<&str, ApiError> {
    match who {
        Principal::Device(d) => Ok(d),
        _ => Err(ApiError::forbidden("this route needs a device token")),
    }
}

fn user_of(who: &Principal) -> Result<&str, ApiError> {
    match who {
        Principal::User(u) => Ok(u),
        _ => Err(ApiError::forbidden("this route needs a user API key")),
    }
}

/// A user's or owner's name follows the rules of ids.
fn check_name(name: &str, field: &str) -> Result<(), ApiError> {
    match byterank_core::device::id_problem(name) {
        Some(problem) => Err(ApiError::bad_request(format!("`{field}` {problem}")).at(field)),
        None => Ok(()),
    }
}

fn state_name(s: byterank_core::AttemptState) -> String {
    serde_json::to_value(s).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}
