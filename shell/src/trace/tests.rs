use ssv_core::runner::{Input, Response};
use ssv_core::trace::{NetworkFacts, TRACE_FORMAT_VERSION, TraceError};

use super::*;

fn header() -> TraceHeader {
    TraceHeader {
        operator_id: 7,
        network: "devnet".into(),
        domain_type: [0, 0, 0xde, 0x01],
        node_version: "test".into(),
        beacon: NetworkFacts {
            slots_per_epoch: 32,
            slot_ms: 12_000,
            genesis_ms: 0,
            genesis_validators_root: [0; 32],
            fork_versions: vec![],
            data_versions: vec![],
            sync_subcommittee_size: 128,
        },
        operators: vec![],
        committees: vec![],
        simulator: None,
    }
}

fn record(seq: u64) -> TraceRecord {
    TraceRecord {
        seq,
        now_unix_millis: 1_000 + seq,
        core: CoreRef::Validator(seq % 3),
        input: Input::Response { id: seq, response: Response::Failed(format!("input-{seq:04}")) },
        answers: vec![Answer::OperatorSignature(vec![seq as u8; 8])],
        outputs: [seq as u8; 32],
    }
}

fn read_all(dir: &Path) -> Vec<TraceRecord> {
    let mut read = Vec::new();
    for f in trace_files(dir).unwrap() {
        let (h, mut records) = read_file(&f).unwrap();
        assert_eq!(h, header());
        read.append(&mut records);
    }
    read
}

fn same(a: &[TraceRecord], b: &[TraceRecord]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(format!("{x:?}"), format!("{y:?}"));
    }
}

#[test]
fn records_round_trip_in_order_across_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = TraceWriter::new(dir.path(), &header(), 4096, 100).unwrap();
    let records: Vec<TraceRecord> = (0..200).map(record).collect();
    for r in &records {
        w.record(r).unwrap();
    }
    w.sync().unwrap();
    let files = trace_files(dir.path()).unwrap();
    assert!(files.len() > 1, "200 records of ~80 bytes rotate at 4 KiB");
    for f in &files {
        assert!(std::fs::metadata(f).unwrap().len() < 4096 + 200);
        assert_eq!(&std::fs::read(f).unwrap()[..8], b"SSVTRACE");
    }
    same(&read_all(dir.path()), &records);
}

#[test]
fn old_files_beyond_max_files_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = TraceWriter::new(dir.path(), &header(), 4096, 2).unwrap();
    for i in 0..500 {
        w.record(&record(i)).unwrap();
    }
    let files = trace_files(dir.path()).unwrap();
    assert_eq!(files.len(), 2);
    let (_, last) = read_file(files.last().unwrap()).unwrap();
    assert_eq!(last.last().unwrap().seq, 499);
}

#[test]
fn another_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = TraceWriter::new(dir.path(), &header(), 4096, 2).unwrap();
    w.record(&record(0)).unwrap();
    w.sync().unwrap();
    let f = &trace_files(dir.path()).unwrap()[0];
    let mut bytes = std::fs::read(f).unwrap();
    bytes[8] = bytes[8].wrapping_add(1);
    std::fs::write(f, bytes).unwrap();
    match read_file(f).unwrap_err() {
        ReadError::Format(TraceError::UnsupportedVersion { found, expected }) => {
            assert_eq!((found, expected), (TRACE_FORMAT_VERSION + 1, TRACE_FORMAT_VERSION));
        }
        e => panic!("{e}"),
    }
}

#[test]
fn the_tracer_writes_off_thread_with_answers_and_digests() {
    let dir = tempfile::tempdir().unwrap();
    let w = TraceWriter::new(dir.path(), &header(), 1 << 20, 4).unwrap();
    let mut t = NodeTracer::start(w).unwrap();
    tap(|| panic!("no call is traced: the tap must not run"));
    for i in 0..10u64 {
        let input = Input::Timeout;
        let p = t.begin(CoreRef::Committee([i as u8; 32]), 50 + i, &input);
        tap(|| Answer::Protection(None));
        tap(|| Answer::OperatorSignature(vec![i as u8]));
        let res = if i % 2 == 0 { Ok(()) } else { Err(RunnerError::NoRunningDuty) };
        t.finish(p, &res, &[]);
    }
    t.sync();
    assert_eq!(t.dropped(), 0);
    let read = read_all(dir.path());
    assert_eq!(read.len(), 10);
    for (i, r) in read.iter().enumerate() {
        assert_eq!(r.seq, i as u64);
        assert_eq!(r.now_unix_millis, 50 + i as u64);
        assert_eq!(
            r.answers,
            vec![Answer::Protection(None), Answer::OperatorSignature(vec![i as u8])]
        );
        let res = if i % 2 == 0 { Ok(()) } else { Err(RunnerError::NoRunningDuty) };
        assert_eq!(r.outputs, outputs_digest(&res, &[]));
    }
}
