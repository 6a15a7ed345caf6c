//! # ssv-benches
//!
//! Criterion benchmarks (`just bench`). Speed and memory targets are measured here and
//! reported as ratios to their physical floor measured in the same run, never asserted
//! in tests. `just bench` runs every bench with [`criterion_config`] and then the
//! `collect` binary, which writes `benches/RESULTS.md`.
//!
//! `cargo test -p ssv-benches --benches` (quick mode, CI) runs each benchmark once with
//! the small sizes only ([`bench_mode`] is false there).

pub mod committee_duty;
pub mod counting_alloc;

use std::time::Duration;

use criterion::Criterion;

/// The shared criterion settings: 10 samples, 1 s warm-up and 3 s of measurement per
/// benchmark, so the full suite stays under 15 minutes on a shared 2-core machine.
/// Criterion reports medians; the collector reads them.
pub fn criterion_config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .without_plots()
}

/// Whether this process was started by `cargo bench` (criterion's `--bench` flag), as
/// opposed to `cargo test --benches`, which runs each benchmark once. Quick mode skips
/// the large sizes whose set-up alone would take longer than CI allows.
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The directory criterion writes to: `$CARGO_TARGET_DIR/criterion`, else
/// `target/criterion` under the workspace.
pub fn criterion_dir() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        std::path::PathBuf::from,
    );
    target.join("criterion")
}
