//! The feature-gated tests (snapshots through serde, grid files, gzip) run
//! under `cargo test -p byterank-core` because the crate's dev-dependencies
//! name the crate itself with those features. If that line goes, this test
//! fails instead of those tests silently compiling out.

#[test]
fn the_feature_gated_tests_are_compiled_in() {
    let on = [("serde", cfg!(feature = "serde")), ("json", cfg!(feature = "json")), ("gzip", cfg!(feature = "gzip"))];
    let off: Vec<&str> = on.iter().filter(|(_, on)| !on).map(|(name, _)| *name).collect();
    assert!(off.is_empty(), "tests built without {off:?}: add them to byterank-core's self dev-dependency");
}
