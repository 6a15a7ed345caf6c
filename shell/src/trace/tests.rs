use ssv_core::trace::{TRACE_FORMAT_VERSION, TraceHeader, TraceRecord};

use super::*;

fn header() -> TraceHeader {
    TraceHeader {
        format_version: TRACE_FORMAT_VERSION,
        operator_id: 7,
        network: "devnet".into(),
        domain_type: "0x0000de01".into(),
        node_version: "test".into(),
    }
}

#[test]
fn records_round_trip_in_order_across_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = TraceWriter::new(dir.path(), header(), 4096, 100).unwrap();
    let inputs: Vec<TraceRecord<String>> = (0..200)
        .map(|i| TraceRecord { seq: i, now_unix_millis: 1_000 + i, input: format!("input-{i:04}") })
        .collect();
    for r in &inputs {
        w.record(r).unwrap();
    }
    w.sync().unwrap();
    let files = trace_files(dir.path()).unwrap();
    assert!(files.len() > 1, "200 records of ~70 bytes rotate at 4 KiB");
    let mut read = Vec::new();
    for f in &files {
        assert!(std::fs::metadata(f).unwrap().len() < 4096 + 200);
        let (h, mut records) = read_file::<String>(f).unwrap();
        assert_eq!(h, header());
        read.append(&mut records);
    }
    assert_eq!(read, inputs);
}

#[test]
fn old_files_beyond_max_files_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = TraceWriter::new(dir.path(), header(), 4096, 2).unwrap();
    for i in 0..500u64 {
        w.record(&TraceRecord { seq: i, now_unix_millis: i, input: i }).unwrap();
    }
    let files = trace_files(dir.path()).unwrap();
    assert_eq!(files.len(), 2);
    let (_, last) = read_file::<u64>(files.last().unwrap()).unwrap();
    assert_eq!(last.last().unwrap().input, 499);
}

#[test]
fn another_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = header();
    h.format_version = TRACE_FORMAT_VERSION + 1;
    let mut w = TraceWriter::new(dir.path(), h, 4096, 2).unwrap();
    w.record(&TraceRecord { seq: 0, now_unix_millis: 0, input: 0u8 }).unwrap();
    let f = &trace_files(dir.path()).unwrap()[0];
    assert!(read_file::<u8>(f).unwrap_err().to_string().contains("format version"));
}
