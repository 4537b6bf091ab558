//! Writes under an `Idempotency-Key` (top-ups, job creation, results, errors):
//! the first answer of each, kept by caller and key for a day, so that a retry
//! whose first answer was lost with the connection gets that answer and changes
//! nothing. The table is state (snapshotted, rebuilt by replay: the ops carry
//! their keys), like the keyed pulls.

use std::collections::{BTreeMap, VecDeque};

use byterank_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// How long an answer is kept, milliseconds.
pub const KEEP_MS: i64 = 86_400_000;

/// Longest `Idempotency-Key`, bytes.
const MAX_KEY_BYTES: usize = 64;

/// The first answers of keyed writes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Keyed {
    /// `caller \n key` to what was asked and answered.
    answers: BTreeMap<String, Answer>,
    /// When each was kept, oldest first: (instant, `caller \n key`).
    order: VecDeque<(i64, String)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Answer {
    /// What the call asked, to tell a retry from a key used again for another call.
    asked: String,
    answer: serde_json::Value,
}

fn slot(caller: &str, key: &str) -> String {
    format!("{caller}\n{key}")
}

/// Refuses a key that is not 1 to 64 visible ASCII characters.
pub fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(format!(
            "the `Idempotency-Key` header must be 1 to {MAX_KEY_BYTES} visible ASCII characters"
        ))
        .at("Idempotency-Key"));
    }
    Ok(())
}

impl Keyed {
    /// The first answer of `caller`'s call under `key`, if it asked the same
    /// (`asked`); a key used again for another call is refused.
    pub fn get(&self, caller: &str, key: &str, asked: &str) -> Result<Option<&serde_json::Value>, ApiError> {
        match self.answers.get(&slot(caller, key)) {
            None => Ok(None),
            Some(a) if a.asked == asked => Ok(Some(&a.answer)),
            Some(_) => Err(ApiError::bad_request(
                "this `Idempotency-Key` was used for another call: use a new key for each call, the same on its retries",
            )
            .at("Idempotency-Key")),
        }
    }

    /// Keeps the first answer of `caller`'s call under `key`, and forgets those
    /// older than a day (`KEEP_MS`).
    pub fn put(&mut self, at: Timestamp, caller: &str, key: &str, asked: String, answer: serde_json::Value) {
        let before = at.millis().saturating_sub(KEEP_MS);
        while self.order.front().is_some_and(|(t, _)| *t < before) {
            let (_, s) = self.order.pop_front().expect("checked");
            self.answers.remove(&s);
        }
        let s = slot(caller, key);
        if self.answers.insert(s.clone(), Answer { asked, answer }).is_none() {
            self.order.push_back((at.millis(), s));
        }
    }

    /// Answers kept.
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    /// Whether none are kept.
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_retry_gets_the_first_answer_another_call_is_refused_and_a_day_later_it_is_gone() {
        let mut k = Keyed::default();
        let t = Timestamp(1_000_000);
        assert_eq!(k.get("operator", "k1", "top_up ana 5").unwrap(), None);
        k.put(t, "operator", "k1", "top_up ana 5".into(), json!({"available": 5}));
        assert_eq!(k.get("operator", "k1", "top_up ana 5").unwrap(), Some(&json!({"available": 5})));
        assert_eq!(k.get("operator", "k1", "top_up ana 6").unwrap_err().status, 400);
        assert_eq!(k.get("user:ana", "k1", "top_up ana 5").unwrap(), None, "keys are per caller");
        k.put(t.add_millis(KEEP_MS + 1), "operator", "k2", "x".into(), json!(null));
        assert_eq!(k.get("operator", "k1", "top_up ana 5").unwrap(), None);
        assert_eq!(k.len(), 1);
        assert!(check_key("").is_err() && check_key("a b").is_err() && check_key(&"a".repeat(65)).is_err());
        assert!(check_key("retry-1").is_ok());
    }
}
