//! Fuzz targets for the rating engine (cargo-fuzz, nightly). The target
//! bodies live in `targets.rs`, which the stable corpus test
//! (`crates/rating/tests/fuzz_corpus.rs`) also includes, so CI replays the
//! same code over `fuzz/corpus/` without nightly.

pub mod targets;
