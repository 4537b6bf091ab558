//! The engine's money: every ByteChip charged to a user sits in exactly one place.

use alloc::collections::BTreeMap;
use alloc::string::String;

use crate::reward::ByteChips;

/// Where ByteChips are. Invariant: `charged = wallets + refunded + platform + escrow`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Ledger {
    /// What each user was charged for jobs, in all.
    pub charged: BTreeMap<String, ByteChips>,
    /// What each device owner has earned.
    pub wallets: BTreeMap<String, ByteChips>,
    /// Of each owner's earnings, what results nothing cross-checked earned
    /// (tasks decided by one untrusted result): part of `wallets`, kept apart
    /// so that unverified work is never counted as verified.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "BTreeMap::is_empty"))]
    pub unverified: BTreeMap<String, ByteChips>,
    /// What went back to each user (unearned bounties of failed or cancelled jobs).
    pub refunded: BTreeMap<String, ByteChips>,
    /// The platform's revenue: its 30%, and bounties nobody earned.
    pub platform: ByteChips,
    /// Charged for jobs still running, not yet paid out.
    pub escrow: ByteChips,
    /// Everything ever charged: every other amount is a part of it, so while it
    /// fits in a `u64` no sum of the ledger overflows.
    total: ByteChips,
}

impl Ledger {
    /// Whether `amount` more can be charged without any sum overflowing.
    pub(crate) fn can_charge(&self, amount: ByteChips) -> bool {
        self.total.0.checked_add(amount.0).is_some()
    }

    pub(crate) fn charge(&mut self, user: &str, amount: ByteChips) {
        self.total += amount;
        *self.charged.entry(user.into()).or_default() += amount;
        self.escrow += amount;
    }

    pub(crate) fn release(&mut self, amount: ByteChips) {
        self.escrow = self.escrow.checked_sub(amount).expect("escrow holds every running job's price");
    }

    pub(crate) fn pay(&mut self, owner: &str, amount: ByteChips, unverified: bool) {
        if unverified {
            *self.unverified.entry(owner.into()).or_default() += amount;
        }
        match self.wallets.get_mut(owner) {
            Some(w) => *w += amount,
            None => {
                self.wallets.insert(owner.into(), amount);
            }
        }
    }

    pub(crate) fn refund(&mut self, user: &str, amount: ByteChips) {
        *self.refunded.entry(user.into()).or_default() += amount;
    }

    /// Whether every charged ByteChip is accounted for.
    pub fn conserves(&self) -> bool {
        let sum = |m: &BTreeMap<String, ByteChips>| m.values().map(|c| u128::from(c.0)).sum::<u128>();
        sum(&self.charged)
            == sum(&self.wallets) + sum(&self.refunded) + u128::from(self.platform.0) + u128::from(self.escrow.0)
    }
}
