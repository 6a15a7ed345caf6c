use ssz_types::VariableList;

use super::*;
use crate::beacon::{AttestationData, Checkpoint};
use crate::runner::{Duty, Response};
use crate::types::{
    CommitteeDuty, DomainType, MessageId, MsgType, RunnerRole, SignedSsvMessage, SsvMessage,
    ValidatorDuty,
};

fn header() -> TraceHeader {
    TraceHeader {
        operator_id: 3,
        network: "devnet".into(),
        domain_type: [0, 0, 0xde, 0x01],
        node_version: "test".into(),
        beacon: NetworkFacts {
            slots_per_epoch: 32,
            slot_ms: 12_000,
            genesis_ms: 1_000,
            genesis_validators_root: [7; 32],
            fork_versions: vec![(0, [1, 0, 0, 0])],
            data_versions: vec![(0, 6)],
            sync_subcommittee_size: 128,
        },
        operators: vec![qbft::Operator { operator_id: 1, public_key: b"pem".to_vec() }],
        committees: Vec::new(),
        simulator: None,
    }
}

fn duty(slot: u64) -> ValidatorDuty {
    ValidatorDuty {
        role: 0,
        pub_key: [9; 48],
        slot,
        validator_index: 5,
        committee_index: 1,
        committee_length: 2,
        committees_at_slot: 3,
        validator_committee_index: 1,
        validator_sync_committee_indices: VariableList::empty(),
    }
}

fn message() -> SignedSsvMessage {
    SignedSsvMessage {
        signatures: VariableList::new(vec![VariableList::new(vec![3; 256]).unwrap()]).unwrap(),
        operator_ids: VariableList::new(vec![1]).unwrap(),
        ssv_message: SsvMessage {
            msg_type: MsgType::Consensus as u64,
            msg_id: MessageId::for_committee(DomainType([0; 4]), RunnerRole::Committee, &[1; 32]),
            data: VariableList::new(vec![1, 2, 3]).unwrap(),
        },
        full_data: VariableList::empty(),
    }
}

fn records() -> Vec<TraceRecord> {
    let data = AttestationData {
        slot: 9,
        index: 0,
        beacon_block_root: [4; 32],
        source: Checkpoint { epoch: 1, root: [5; 32] },
        target: Checkpoint { epoch: 2, root: [6; 32] },
    };
    let inputs = vec![
        Input::StartDuty(Duty::Committee(CommitteeDuty {
            slot: 9,
            validator_duties: vec![duty(9), duty(9)],
        })),
        Input::StartDuty(Duty::Validator(duty(10))),
        Input::Message(message()),
        Input::Timeout,
        Input::Response { id: 1, response: Response::AttestationData(data) },
        Input::Response {
            id: 2,
            response: Response::Signatures(vec![
                Ok([8; 96]),
                Err(crate::runner::SignRefusal::Slashable("double vote".into())),
            ]),
        },
        Input::Response { id: 3, response: Response::Failed("no".into()) },
    ];
    inputs
        .into_iter()
        .enumerate()
        .map(|(i, input)| TraceRecord {
            seq: 10 + i as u64,
            now_unix_millis: 5_000 + i as u64,
            core: if i % 2 == 0 { CoreRef::Committee([1; 32]) } else { CoreRef::Validator(5) },
            input,
            answers: vec![
                Answer::OperatorSignature(vec![1; 256]),
                Answer::Protection(Some(Refusal {
                    code: Some(ErrorCode::SlashableAttestation),
                    reason: "x".into(),
                })),
                Answer::DutyContext { slot: 9, expected_source: 1, expected_target: 2 },
            ],
            outputs: [i as u8; 32],
        })
        .collect()
}

fn file() -> Vec<u8> {
    let mut bytes = encode_preamble(&header()).unwrap();
    for r in records() {
        encode_frame(&r, &mut bytes).unwrap();
    }
    bytes
}

#[test]
fn a_trace_round_trips_every_input_kind() {
    let (h, read) = read_node_trace(&file()).unwrap();
    assert_eq!(h, header());
    let want = records();
    assert_eq!(read.len(), want.len());
    for (a, b) in read.iter().zip(&want) {
        // Input has no PartialEq: compare the encodings and the Debug forms.
        assert_eq!(postcard::to_allocvec(a).unwrap(), postcard::to_allocvec(b).unwrap());
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
}

#[test]
fn the_layout_is_magic_version_then_length_body_check_frames() {
    let bytes = file();
    assert_eq!(&bytes[..8], b"SSVTRACE");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 5);
    let len = u32::from_le_bytes(bytes[10..14].try_into().unwrap()) as usize;
    let body = &bytes[14..14 + len];
    assert_eq!(postcard::from_bytes::<TraceHeader>(body).unwrap(), header());
    let check = &bytes[14 + len..18 + len];
    assert_eq!(check, &Sha256::digest(body)[..4]);
}

#[test]
fn a_wrong_magic_is_refused() {
    let mut bytes = file();
    bytes[0] = b'X';
    assert!(matches!(TraceReader::new(&bytes), Err(TraceError::BadMagic { .. })));
    let simulator_v2 = b"SSVSIMTR\x02\x00".to_vec();
    let e = TraceReader::new(&simulator_v2).unwrap_err();
    assert!(e.to_string().contains("bad magic"), "{e}");
}

#[test]
fn another_version_is_refused() {
    let mut bytes = file();
    bytes[8] = 1;
    assert_eq!(
        TraceReader::new(&bytes).unwrap_err(),
        TraceError::UnsupportedVersion { found: 1, expected: TRACE_FORMAT_VERSION }
    );
    bytes[8] = 6;
    assert!(TraceReader::new(&bytes).is_err());
}

#[test]
fn version_4_files_are_still_read_and_tell_their_version() {
    let mut bytes = file();
    assert_eq!(TraceReader::new(&bytes).unwrap().version(), TRACE_FORMAT_VERSION);
    bytes[8] = 4;
    let reader = TraceReader::new(&bytes).unwrap();
    assert_eq!((reader.version(), reader.header()), (4, &header()));
}

#[test]
fn a_truncated_record_is_refused() {
    let bytes = file();
    for cut in [bytes.len() - 1, bytes.len() - 5, 9, 12] {
        let e = read_node_trace(&bytes[..cut]).unwrap_err();
        assert!(matches!(e, TraceError::Truncated { .. }), "cut {cut}: {e}");
    }
}

#[test]
fn every_corrupted_byte_is_caught() {
    let bytes = file();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x20;
        assert!(read_node_trace(&b).is_err(), "byte {i} flipped went unnoticed");
    }
}

#[test]
fn records_out_of_sequence_are_refused() {
    let mut bytes = encode_preamble(&header()).unwrap();
    let mut rs = records();
    rs[2].seq = 99;
    for r in &rs {
        encode_frame(r, &mut bytes).unwrap();
    }
    assert!(matches!(
        read_node_trace(&bytes),
        Err(TraceError::Sequence { found: 99, expected: 12, .. })
    ));
}

#[test]
fn the_digest_tells_results_and_outputs_apart() {
    let ok = outputs_digest(&Ok(()), &[]);
    assert_ne!(ok, outputs_digest(&Err(RunnerError::NoRunningDuty), &[]));
    let b = Output::Broadcast(message());
    let mut m = message();
    m.operator_ids = VariableList::new(vec![2]).unwrap();
    let b2 = Output::Broadcast(m);
    assert_ne!(
        outputs_digest(&Ok(()), std::slice::from_ref(&b)),
        outputs_digest(&Ok(()), std::slice::from_ref(&b2))
    );
    assert_ne!(
        outputs_digest(&Ok(()), &[b.clone(), b2.clone()]),
        outputs_digest(&Ok(()), &[b2, b.clone()])
    );
    assert_eq!(outputs_digest(&Ok(()), std::slice::from_ref(&b)), outputs_digest(&Ok(()), &[b]));
}
