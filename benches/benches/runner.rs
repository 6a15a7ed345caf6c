//! A committee duty for V validators through one operator's core plus the crypto its shell
//! does (see `ssv_benches::committee_duty`): V = 1, 100, 1,000, 1,563 (due per slot at
//! 50,000 validators) and 10,000. The collector divides the median by V for the CPU time
//! per validator-duty and compares it with the BLS floor (one share signature, one
//! reconstruction, one 64-way batched verification). Goal: within 1.3x of the floor, and
//! 1,563 duties submitted within the first 4 s of the slot on 2 cores.
//!
//! `runner/committee_duty_unbatched` is the same slot with each reconstructed signature
//! verified on its own (the runners' pluggable BLS without batch verification), to show
//! in the same run what batching the committee's reconstructions saves.
//!
//! `cargo bench -p ssv-benches --bench runner`; quick mode runs V = 1 and 100 once.

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

use std::sync::Arc;

use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use ssv_benches::committee_duty::{DUE_PER_SLOT_AT_50K, DutySlot};
use ssv_core::crypto::threshold::{LagrangeCache, ReconstructError};
use ssv_core::runner::{BlstThresholdBls, QuorumSet, ThresholdBls};
use ssv_core::types::{BlsPublicKeyBytes, BlsSignatureBytes, Root};

/// Real BLS, one verification per reconstructed signature (the trait's default batch).
#[derive(Debug)]
struct Unbatched;

impl ThresholdBls for Unbatched {
    fn verify_partial(
        &self,
        key: &BlsPublicKeyBytes,
        sig: &BlsSignatureBytes,
        root: &Root,
    ) -> bool {
        BlstThresholdBls.verify_partial(key, sig, root)
    }
    fn reconstruct(
        &self,
        quorum: QuorumSet<'_>,
        cache: &mut LagrangeCache,
    ) -> Result<BlsSignatureBytes, ReconstructError> {
        BlstThresholdBls.reconstruct(quorum, cache)
    }
}

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
    let mut group = c.benchmark_group("runner/committee_duty_unbatched");
    group.sampling_mode(SamplingMode::Flat);
    let sizes: &[u64] = if ssv_benches::bench_mode() { &[100, 1_000] } else { &[100] };
    for &v in sizes {
        let slot = DutySlot::new(v, 1);
        let bls: Arc<dyn ThresholdBls> = Arc::new(Unbatched);
        group.bench_with_input(BenchmarkId::from_parameter(v), &slot, |b, slot| {
            b.iter_batched(
                || slot.operator_committees_with(Some(&bls)),
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
