//! A committee duty for V validators through one operator's core plus the crypto its shell
//! does (see `ssv_benches::committee_duty`): V = 1, 100, 1,000, 1,563 (due per slot at
//! 50,000 validators) and 10,000. The collector divides the median by V for the CPU time
//! per validator-duty and compares it with the BLS floor (one share signature, one
//! reconstruction, one 64-way batched verification). Goal: within 1.3x of the floor, and
//! 1,563 duties submitted within the first 4 s of the slot on 2 cores.
//!
//! `cargo bench -p ssv-benches --bench runner`; quick mode runs V = 1 and 100 once.

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use ssv_benches::committee_duty::{DUE_PER_SLOT_AT_50K, DutySlot};

fn committee_duty(c: &mut Criterion) {
    let sizes: &[u64] = if ssv_benches::bench_mode() {
        &[1, 100, 1_000, DUE_PER_SLOT_AT_50K, 10_000]
    } else {
        &[1, 100]
    };
    let mut group = c.benchmark_group("runner/committee_duty");
    group.sampling_mode(SamplingMode::Flat);
    for &v in sizes {
        let slot = DutySlot::new(v, 1);
        // Check once, outside the measurement, that every duty is submitted.
        let mut committees = slot.operator_committees();
        let stats = slot.run_operator(&mut committees);
        assert_eq!(stats.submissions, v, "every validator duty submitted: {stats:?}");
        assert_eq!(stats.bls_signatures, v);
        drop(committees);
        group.bench_with_input(BenchmarkId::from_parameter(v), &slot, |b, slot| {
            b.iter_batched(
                || slot.operator_committees(),
                |mut committees| slot.run_operator(&mut committees),
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = ssv_benches::criterion_config();
    targets = committee_duty
}
criterion_main!(benches);
