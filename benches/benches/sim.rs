//! Simulated slots per second of the whole-cluster simulator, for 4/7/10/13 operators and
//! 100/1,000 validators, in fake and real (RSA) crypto, on one core, with no faults.
//! The throughput criterion prints is in slots per second ("elem/s").
//!
//! `cargo bench -p ssv-benches --bench sim`; target: at least 1,000 slots/s in fake-crypto
//! mode for 4 operators and 100 validators.

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ssv_simulator::sim::{CryptoMode, SimOptions, run};

fn sim(c: &mut Criterion) {
    for (crypto, name, slots) in [(CryptoMode::Fake, "fake", 64), (CryptoMode::Real, "real", 4)] {
        let mut group = c.benchmark_group(format!("sim/{name}"));
        group.sample_size(10).measurement_time(Duration::from_secs(3));
        group.throughput(Throughput::Elements(slots));
        for operators in [4, 7, 10, 13] {
            for validators in [100, 1_000] {
                let options =
                    SimOptions { operators, validators, slots, crypto, ..SimOptions::default() };
                let id = BenchmarkId::from_parameter(format!("{operators}ops/{validators}vals"));
                group.bench_with_input(id, &options, |b, o| {
                    b.iter(|| {
                        let r = run(black_box(1), o, false, &mut |_| {}).expect("runs");
                        assert!(r.violation.is_none());
                        r.records
                    });
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, sim);
criterion_main!(benches);
