//! Parsers for numeric options: each says what is allowed when a value is refused
//! (clap shows `invalid value '<v>' for '<option>': <what we say>`). Options that
//! take numbers accept a leading `-`, so `-1` is refused by these rules and not
//! mistaken for an option.

use byterank::core::job::JobLimits;

/// Most devices `synth` generates: 7,000,000, so that its grid file (about 535
/// bytes a device) stays under the 4 GiB an input file may hold.
pub const MAX_DEVICES: u64 = 7_000_000;
/// Most copies `replication --copies` evaluates (spec §15): 100,000,000.
pub const MAX_COPIES: u64 = 100_000_000;

fn whole(s: &str, lo: u64, hi: u64, what: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(format!("{what} must be a whole number within {lo}..={hi}")),
    }
}

fn real(s: &str) -> Result<f64, String> {
    s.trim().parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| "not a finite number".to_string())
}

/// A seed: a whole number within 0..=2^64-1.
pub fn seed(s: &str) -> Result<u64, String> {
    whole(s, 0, u64::MAX, "a seed")
}

/// A count of lines to show, 0 or more.
pub fn count(s: &str) -> Result<usize, String> {
    whole(s, 0, u32::MAX.into(), "a count").map(|n| n as usize)
}

/// A number of devices for `synth`.
pub fn devices(s: &str) -> Result<usize, String> {
    whole(s, 0, MAX_DEVICES, "the number of devices").map(|n| n as usize)
}

/// A number of unique tasks, 1..=10,000,000.
pub fn tasks(s: &str) -> Result<usize, String> {
    whole(s, 1, JobLimits::DEFAULT.max_chunks, "the number of tasks").map(|n| n as usize)
}

/// A number of copies, 1..=100,000,000.
pub fn copies(s: &str) -> Result<usize, String> {
    whole(s, 1, MAX_COPIES, "the number of copies").map(|n| n as usize)
}

/// A probability within 0..=1.
pub fn probability(s: &str) -> Result<f64, String> {
    let rule = "a failure probability must be a number within 0..=1 (0.01 is 1%)";
    match real(s) {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p + 0.0),
        _ => Err(rule.to_string()),
    }
}

/// A bound strictly between 0 and 1.
pub fn bound(s: &str) -> Result<f64, String> {
    let rule = "the bound must be a number strictly between 0 and 1 (0.01 asks for at most 1%)";
    match real(s) {
        Ok(p) if p > 0.0 && p < 1.0 => Ok(p),
        _ => Err(rule.to_string()),
    }
}

/// A replication factor cap within 1..=10.
pub fn max_r(s: &str) -> Result<f64, String> {
    let hi = JobLimits::DEFAULT.max_r;
    match real(s) {
        Ok(r) if (1.0..=hi).contains(&r) => Ok(r),
        _ => Err(format!("r must be a number within 1..={hi} (1 means no replicas)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_is_allowed() {
        assert_eq!(seed("7"), Ok(7));
        assert!(seed("-1").unwrap_err().contains("0..=18446744073709551615"));
        assert!(devices("18446744073709551615").unwrap_err().contains("0..=7000000"));
        assert_eq!(probability("-0"), Ok(0.0));
        assert!(probability("-0").unwrap().is_sign_positive());
        assert!(probability("NaN").is_err() && probability("1.5").is_err());
        assert!(bound("0").is_err() && bound("1").is_err() && bound("0.5").is_ok());
        assert!(max_r("11").is_err() && max_r("0.5").is_err() && max_r("10").is_ok());
        assert!(copies("0").is_err() && tasks("10000001").is_err());
    }
}
