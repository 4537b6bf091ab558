//! Payouts: a worker owner redeems ByteChips from their wallet. A request moves
//! the amount out of the wallet into the ledger's pending-payout account; the
//! operator then marks it paid (it leaves the books as paid out) or rejected (it
//! goes back to the wallet). The engine's ledger keeps what each owner earned;
//! what they may still redeem is that, less their pending and paid payouts, so
//! `charged = wallets + pending + paid out + refunded + platform + escrow`.

use std::collections::{BTreeMap, BTreeSet};

use byterank_core::Timestamp;
use serde::{Deserialize, Serialize};

use super::{worker_account, Effect, Entry, Op, Principal, Service};
use crate::api::{PayoutList, PayoutRequest, PayoutsQuery, SettlePayout};
use crate::error::ApiError;

/// Pending payouts one owner may have at a time.
pub const MAX_PENDING: usize = 100;

/// Most payouts listed on one page.
pub const MAX_PAGE: u32 = 1_000;

/// Where a payout is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PayoutState {
    /// Requested: the amount left the wallet and waits for the operator.
    Pending,
    /// The operator paid it out.
    Paid,
    /// The operator rejected it: the amount went back to the wallet.
    Rejected,
}

/// One payout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payout {
    /// Its number, from 1, in the order payouts were requested.
    pub id: u64,
    /// The owner it is paid to.
    pub owner: String,
    /// ByteChips.
    pub amount: u64,
    /// Where it is.
    pub state: PayoutState,
    /// When it was requested, milliseconds since the epoch.
    pub requested_at: i64,
    /// When the operator paid or rejected it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<i64>,
}

/// What one owner has out of their wallet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Out {
    /// Requested, not yet paid or rejected.
    pub pending: u64,
    /// Paid out.
    pub paid: u64,
}

impl Out {
    /// Pending and paid together: what left the wallet.
    pub fn total(self) -> u128 {
        u128::from(self.pending) + u128::from(self.paid)
    }
}

/// Every payout, with the indexes the listings need.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Payouts {
    all: BTreeMap<u64, Payout>,
    by_owner: BTreeSet<(String, u64)>,
    pending: BTreeSet<u64>,
    out: BTreeMap<String, Out>,
    /// Payouts requested, in all (the last id given).
    requested: u64,
}

impl Payouts {
    /// What `owner` has out of their wallet.
    pub fn out(&self, owner: &str) -> Out {
        self.out.get(owner).copied().unwrap_or_default()
    }

    /// Every owner's together.
    pub fn totals(&self) -> Out {
        self.out.values().fold(Out::default(), |a, o| Out { pending: a.pending + o.pending, paid: a.paid + o.paid })
    }

    /// A payout.
    pub fn get(&self, id: u64) -> Option<&Payout> {
        self.all.get(&id)
    }

    /// The payout requested last.
    pub fn last(&self) -> Option<&Payout> {
        self.all.values().next_back()
    }

    /// Pending payouts of `owner`.
    fn pending_of(&self, owner: &str) -> usize {
        self.by_owner
            .range((owner.to_string(), 0)..=(owner.to_string(), u64::MAX))
            .filter(|(_, id)| self.pending.contains(id))
            .count()
    }

    fn request(&mut self, owner: &str, amount: u64, at: Timestamp) -> u64 {
        self.requested += 1;
        let id = self.requested;
        let p = Payout {
            id,
            owner: owner.into(),
            amount,
            state: PayoutState::Pending,
            requested_at: at.millis(),
            settled_at: None,
        };
        self.all.insert(id, p);
        self.by_owner.insert((owner.into(), id));
        self.pending.insert(id);
        self.out.entry(owner.into()).or_default().pending += amount;
        id
    }

    fn settle(&mut self, id: u64, to: PayoutState, at: Timestamp) {
        let p = self.all.get_mut(&id).expect("checked");
        let out = self.out.get_mut(&p.owner).expect("a pending payout is counted");
        out.pending -= p.amount;
        if to == PayoutState::Paid {
            out.paid += p.amount;
        }
        p.state = to;
        p.settled_at = Some(at.millis());
        self.pending.remove(&id);
    }

    /// Newest first, of `owner` (all owners with `None`), in `state` if given,
    /// before the payout `before`; at most `limit`, and the `before` of the
    /// next page when there is one.
    pub fn page(
        &self,
        owner: Option<&str>,
        state: Option<PayoutState>,
        before: Option<u64>,
        limit: u32,
    ) -> (Vec<Payout>, Option<u64>) {
        let below = before.unwrap_or(u64::MAX);
        let ids: Box<dyn Iterator<Item = u64> + '_> = match (owner, state) {
            (Some(o), _) => {
                Box::new(self.by_owner.range((o.to_string(), 0)..(o.to_string(), below)).rev().map(|x| x.1))
            }
            (None, Some(PayoutState::Pending)) => Box::new(self.pending.range(..below).rev().copied()),
            (None, _) => Box::new(self.all.range(..below).rev().map(|(id, _)| *id)),
        };
        let mut list: Vec<Payout> = ids
            .map(|id| &self.all[&id])
            .filter(|p| state.is_none_or(|s| p.state == s))
            .take(limit as usize + 1)
            .cloned()
            .collect();
        let next = (list.len() > limit as usize).then(|| {
            list.truncate(limit as usize);
            list.last().map_or(0, |p| p.id)
        });
        (list, next)
    }

    /// Whether the payouts add up: each owner's pending and paid sums are those
    /// of their payouts, and no owner has more out than `earned` says they earned.
    pub fn consistent(&self, earned: impl Fn(&str) -> u64) -> bool {
        let mut sums: BTreeMap<&str, Out> = BTreeMap::new();
        for p in self.all.values() {
            let o = sums.entry(p.owner.as_str()).or_default();
            match p.state {
                PayoutState::Pending => o.pending += p.amount,
                PayoutState::Paid => o.paid += p.amount,
                PayoutState::Rejected => {}
            }
        }
        let pending: BTreeSet<u64> =
            self.all.values().filter(|p| p.state == PayoutState::Pending).map(|p| p.id).collect();
        pending == self.pending
            && self.out.iter().all(|(owner, o)| sums.get(owner.as_str()).copied().unwrap_or_default() == *o)
            && sums.keys().all(|owner| self.out.contains_key(*owner))
            && self.out.iter().all(|(owner, o)| o.total() <= u128::from(earned(owner)))
    }
}

impl Service {
    /// What `owner` earned, in all (the engine's wallet).
    pub(super) fn earned(&self, owner: &str) -> u64 {
        self.engine.ledger().wallets.get(owner).map_or(0, |c| c.0)
    }

    /// What `owner` may still redeem: earned, less pending and paid payouts.
    pub(super) fn redeemable(&self, owner: &str) -> u64 {
        let left = u128::from(self.earned(owner)).saturating_sub(self.payouts.out(owner).total());
        u64::try_from(left).unwrap_or(u64::MAX)
    }

    /// The payouts (for the ledger and the pages).
    pub fn payout_book(&self) -> &Payouts {
        &self.payouts
    }

    /// The calling owner asks to redeem ByteChips; a retry under the same
    /// `key` answers what the first try did and moves nothing.
    pub fn request_payout(
        &mut self,
        at: Timestamp,
        who: &Principal,
        req: PayoutRequest,
        key: Option<&str>,
    ) -> Result<Payout, ApiError> {
        let owner = owner_of(who)?.to_string();
        let op = Op::RequestPayout { owner, amount: req.amount, key: key.map(str::to_string) };
        if let Some(first) = self.first_answer(&op)? {
            return first;
        }
        self.apply(at, &op)?;
        Ok(self.payouts.last().expect("just requested").clone())
    }

    /// The operator marks a pending payout paid or rejected. Marking it again
    /// as it is changes nothing (a retry); changing a settled one is refused.
    pub fn settle_payout(
        &mut self,
        at: Timestamp,
        who: &Principal,
        id: u64,
        req: SettlePayout,
    ) -> Result<Payout, ApiError> {
        if !matches!(who, Principal::Operator) {
            return Err(ApiError::forbidden("only the operator pays or rejects payouts"));
        }
        if req.state == PayoutState::Pending {
            return Err(ApiError::bad_request("a payout is marked `paid` or `rejected`").at("state"));
        }
        let p = self.payouts.get(id).ok_or_else(|| unknown_payout(id))?;
        if p.state != req.state {
            self.apply(at, &Op::SettlePayout { payout: id, paid: req.state == PayoutState::Paid })?;
        }
        Ok(self.payouts.get(id).expect("checked").clone())
    }

    /// The caller's payouts (an owner's), or everyone's (the operator), newest first.
    pub fn payouts(&self, who: &Principal, q: &PayoutsQuery) -> Result<PayoutList, ApiError> {
        let owner = match who {
            Principal::Operator => q.owner.as_deref(),
            Principal::Owner(o) => {
                if q.owner.as_ref().is_some_and(|x| x != o) {
                    return Err(
                        ApiError::forbidden(format!("the key is owner `{o}`'s: list only their payouts")).at("owner")
                    );
                }
                Some(o.as_str())
            }
            _ => return Err(ApiError::forbidden("payouts answer to an owner's key or the operator's")),
        };
        let limit = q.limit.unwrap_or(50);
        if limit == 0 || limit > MAX_PAGE {
            return Err(ApiError::bad_request(format!("list 1 to {MAX_PAGE} payouts at a time")).at("limit"));
        }
        let (payouts, next) = self.payouts.page(owner, q.state, q.before, limit);
        Ok(PayoutList { payouts, next })
    }

    /// Applies a payout's op (see [`Service::apply`]).
    pub(super) fn apply_payout(&mut self, at: Timestamp, op: &Op) -> Result<(), ApiError> {
        match op {
            Op::RequestPayout { owner, amount, .. } => {
                if !self.owners.contains(owner) {
                    return Err(ApiError::not_found(format!("no owner `{owner}`")).at("owner"));
                }
                if *amount == 0 {
                    return Err(ApiError::bad_request("a payout redeems at least 1 ByteChip").at("amount"));
                }
                let left = self.redeemable(owner);
                if *amount > left {
                    return Err(ApiError::conflict(format!(
                        "the wallet holds {left} ByteChips: ask for at most that much"
                    ))
                    .at("amount"));
                }
                if self.payouts.pending_of(owner) >= MAX_PENDING {
                    return Err(ApiError::conflict(format!(
                        "{MAX_PENDING} payouts are pending already: wait until the operator settles some"
                    )));
                }
                let id = self.payouts.request(owner, *amount, at);
                self.payout_entry(at, owner, "payout", *amount, id);
            }
            Op::SettlePayout { payout, paid } => {
                let p = self.payouts.get(*payout).ok_or_else(|| unknown_payout(*payout))?;
                if p.state != PayoutState::Pending {
                    return Err(ApiError::conflict(format!(
                        "payout {payout} is {} already: only a pending payout is paid or rejected",
                        if p.state == PayoutState::Paid { "paid" } else { "rejected" }
                    )));
                }
                let (owner, amount) = (p.owner.clone(), p.amount);
                let to = if *paid { PayoutState::Paid } else { PayoutState::Rejected };
                self.payouts.settle(*payout, to, at);
                let kind = if *paid { "payout_paid" } else { "payout_returned" };
                self.payout_entry(at, &owner, kind, amount, *payout);
            }
            _ => unreachable!("only payout ops"),
        }
        Ok(())
    }

    fn payout_entry(&mut self, at: Timestamp, owner: &str, kind: &str, amount: u64, id: u64) {
        let e = Entry { payout: Some(id), ..Entry::new(worker_account(owner), at, kind, amount) };
        self.effect(Effect::Entry(e));
    }
}

fn owner_of(who: &Principal) -> Result<&str, ApiError> {
    match who {
        Principal::Owner(o) => Ok(o),
        _ => Err(ApiError::forbidden("payouts are requested with the owner's key")),
    }
}

fn unknown_payout(id: u64) -> ApiError {
    ApiError::not_found(format!("no payout {id}")).at("payout")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Random requests and settlements against a model kept here: the sums per
    /// owner, the pending set and the pages agree with it.
    #[test]
    fn payouts_agree_with_a_model() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut p = Payouts::default();
        let mut model: Vec<(String, u64, PayoutState)> = Vec::new();
        for step in 0..2_000 {
            let at = Timestamp(step);
            if model.is_empty() || rng.random_bool(0.6) {
                let owner = format!("o{}", rng.random_range(0..4));
                let amount = rng.random_range(1..1_000);
                let id = p.request(&owner, amount, at);
                model.push((owner, amount, PayoutState::Pending));
                assert_eq!(id, model.len() as u64);
            } else {
                let i = rng.random_range(0..model.len());
                if model[i].2 == PayoutState::Pending {
                    let to = if rng.random_bool(0.5) { PayoutState::Paid } else { PayoutState::Rejected };
                    p.settle(i as u64 + 1, to, at);
                    model[i].2 = to;
                }
            }
        }
        for o in 0..5 {
            let owner = format!("o{o}");
            let sum = |s| model.iter().filter(|m| m.0 == owner && m.2 == s).map(|m| m.1).sum::<u64>();
            assert_eq!(p.out(&owner), Out { pending: sum(PayoutState::Pending), paid: sum(PayoutState::Paid) });
        }
        assert!(p.consistent(|_| u64::MAX));
        assert!(!p.consistent(|_| 0) || p.totals().total() == 0);
        // Pages, walked to the end, give the model's lines newest first.
        for (owner, state) in [
            (None, None),
            (Some("o1"), None),
            (None, Some(PayoutState::Pending)),
            (Some("o2"), Some(PayoutState::Paid)),
        ] {
            let mut got = Vec::new();
            let mut before = None;
            loop {
                let (page, next) = p.page(owner, state, before, 37);
                got.extend(page.iter().map(|x| x.id));
                match next {
                    Some(n) => before = Some(n),
                    None => break,
                }
            }
            let want: Vec<u64> = (1..=model.len() as u64)
                .rev()
                .filter(|id| {
                    let m = &model[*id as usize - 1];
                    owner.is_none_or(|o| m.0 == o) && state.is_none_or(|s| m.2 == s)
                })
                .collect();
            assert_eq!(got, want, "{owner:?} {state:?}");
        }
    }
}
