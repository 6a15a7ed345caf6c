//! SSZ decode + encode of the largest messages, next to a plain copy of the same bytes
//! (the floor: any decoder must at least read them once):
//! - `signed_ssv_message_max`: a decided commit of 13 signers whose `SSVMessage` data and
//!   full data are at their SSZ limits (722,412 and 8,388,836 bytes);
//! - `validator_consensus_data_max`: a proposal value with 8 MiB of block SSZ;
//! - `partial_signatures_1512`: post-consensus partial signatures at the 1,512-entry limit.
//!
//! `cargo bench -p ssv-benches --bench ssz`.

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use ssv_core::types::ssz::{Decode, Encode};
use ssv_core::types::ssz_types::VariableList;
use ssv_core::types::{
    MessageId, PartialSignatureMessage, PartialSignatureMessages, SignedSsvMessage, SsvMessage,
    ValidatorConsensusData, ValidatorDuty,
};
use std::hint::black_box;

const MAX_SSV_DATA: usize = 722 * 1000 + 412;
const MAX_FULL_DATA: usize = 8_388_608 + 228;
const MAX_DATA_SSZ: usize = 8_388_608;
const MAX_PARTIALS: usize = 1_024 + 488;

fn bench_roundtrip<T: Encode + Decode>(c: &mut Criterion, name: &str, value: &T) {
    let bytes = value.as_ssz_bytes();
    c.bench_function(&format!("ssz/{name}/decode_encode"), |b| {
        b.iter(|| {
            let decoded = T::from_ssz_bytes(black_box(&bytes)).expect("decodes");
            black_box(decoded.as_ssz_bytes())
        });
    });
    c.bench_function(&format!("ssz/{name}/copy"), |b| b.iter(|| black_box(bytes.clone())));
}

fn ssz(c: &mut Criterion) {
    let signed = SignedSsvMessage {
        signatures: VariableList::new(
            (0..13).map(|i| VariableList::new(vec![i as u8; 256]).expect("256")).collect(),
        )
        .expect("13"),
        operator_ids: VariableList::new((1..=13).collect()).expect("13"),
        ssv_message: SsvMessage {
            msg_type: 0,
            msg_id: MessageId([1; 56]),
            data: VariableList::new(vec![0x11; MAX_SSV_DATA]).expect("max data"),
        },
        full_data: VariableList::new(vec![0x22; MAX_FULL_DATA]).expect("max full data"),
    };
    bench_roundtrip(c, "signed_ssv_message_max", &signed);

    let vcd = ValidatorConsensusData {
        duty: ValidatorDuty {
            role: 1,
            pub_key: [3; 48],
            slot: 12,
            validator_index: 7,
            committee_index: 0,
            committee_length: 0,
            committees_at_slot: 0,
            validator_committee_index: 0,
            validator_sync_committee_indices: VariableList::empty(),
        },
        version: 5,
        data_ssz: VariableList::new(vec![0x33; MAX_DATA_SSZ]).expect("max block"),
    };
    bench_roundtrip(c, "validator_consensus_data_max", &vcd);

    let psig = PartialSignatureMessages {
        msg_type: 0,
        slot: 12,
        messages: VariableList::new(
            (0..MAX_PARTIALS as u64)
                .map(|i| PartialSignatureMessage {
                    partial_signature: [4; 96],
                    signing_root: [5; 32],
                    signer: 1,
                    validator_index: i,
                })
                .collect(),
        )
        .expect("1512"),
    };
    bench_roundtrip(c, "partial_signatures_1512", &psig);
}

criterion_group! {
    name = benches;
    config = ssv_benches::criterion_config();
    targets = ssz
}
criterion_main!(benches);
