//! # ssv-benches
//!
//! Criterion benchmarks (`just bench`). Speed and memory targets are measured here and
//! reported as ratios to their physical floor measured in the same run, never asserted
//! in tests.
