//! Recording every input the node gives its cores (`--trace-dir`), in the format of
//! [`ssv_core::trace`], rotated by size and written off the event loop.
//!
//! # Files
//! `trace-<unix ms of the file's first record, 13 digits>-<file number, 6 digits>.ssvtrace`.
//! Each file is a complete trace (preamble and header, then records), so each replays on
//! its own from its first record's state onward, and a run's files in name order replay as
//! one. When a file reaches `max_file_bytes` the next record opens a new file, and the
//! oldest files beyond `max_files` are deleted.
//!
//! # Off the loop
//! [`NodeTracer`] runs on the driver's loop: it captures the [`Answer`]s of one `handle`
//! call (through [`tap`]), digests the outputs and hands the record to a writer thread
//! over a bounded channel of [`CHANNEL_CAPACITY`] records. A full channel (a disk slower
//! than the duties) drops the record and counts it ([`NodeTracer::dropped`]): duties never
//! wait for the trace. A trace with drops does not replay past the first gap (its
//! records' `seq` jump, which the reader refuses).

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use std::collections::BTreeMap;

use ssv_core::qbft::{Operator, UnixMillis};
use ssv_core::runner::{BeaconNetwork, Committee, Input, Output, RunnerError};
use ssv_core::trace::{
    Answer, CommitteeFacts, CoreRef, NetworkFacts, Refusal, TraceError, TraceHeader, TraceRecord,
    encode_frame, encode_preamble, outputs_digest,
};
use ssv_core::types::{DomainType, OperatorId};

/// Records the writer thread may lag behind the loop before records are dropped.
pub const CHANNEL_CAPACITY: usize = 4096;

/// The file name extension of trace files.
pub const EXTENSION: &str = "ssvtrace";

thread_local! {
    /// The answers of the `handle` call running on this thread, when one is recorded.
    static CAPTURE: RefCell<Option<Vec<Answer>>> = const { RefCell::new(None) };
}

/// Records `answer` as obtained by the core inside the `handle` call being traced on this
/// thread; nothing when no call is traced (the closure is not even run). Called by the
/// driver's operator signer, slashing lookups and runner factory.
pub fn tap(answer: impl FnOnce() -> Answer) {
    CAPTURE.with_borrow_mut(|c| {
        if let Some(answers) = c {
            answers.push(answer());
        }
    });
}

/// Taps an operator signature made inside a traced `handle` call (a failed signing is
/// recorded as an empty signature: replay then fails the same way).
pub fn tap_signature(sig: &Result<Vec<u8>, ssv_core::qbft::SignError>) {
    tap(|| Answer::OperatorSignature(sig.clone().unwrap_or_default()));
}

/// Taps a slashing lookup made inside a traced `handle` call.
pub fn tap_protection(r: &Result<(), ssv_core::qbft::ValueCheckError>) {
    tap(|| {
        Answer::Protection(
            r.as_ref().err().map(|e| Refusal { code: e.code, reason: e.reason.clone() }),
        )
    });
}

/// The header of a node's trace: its operator, network and committees (public keys and
/// shares only).
pub fn node_header<'a>(
    operator_id: OperatorId,
    network: &str,
    domain_type: DomainType,
    beacon: &BeaconNetwork,
    committees: impl Iterator<Item = &'a Committee>,
) -> TraceHeader {
    let mut operators: BTreeMap<OperatorId, Operator> = BTreeMap::new();
    let mut facts = Vec::new();
    for c in committees {
        for o in &c.member.committee {
            operators.insert(o.operator_id, o.clone());
        }
        facts.push(CommitteeFacts {
            operators: c.member.committee.iter().map(|o| o.operator_id).collect(),
            shares: c.shares.values().cloned().collect(),
        });
    }
    TraceHeader {
        operator_id,
        network: network.to_owned(),
        domain_type: domain_type.0,
        node_version: format!("ssv-node {}", env!("CARGO_PKG_VERSION")),
        beacon: NetworkFacts::from(beacon),
        operators: operators.into_values().collect(),
        committees: facts,
        simulator: None,
    }
}

/// A size-rotated trace file writer (synchronous; [`NodeTracer`] runs it on its thread).
#[derive(Debug)]
pub struct TraceWriter {
    dir: PathBuf,
    preamble: Vec<u8>,
    max_file_bytes: u64,
    max_files: u32,
    current: Option<(BufWriter<File>, u64)>,
    file_number: u64,
    scratch: Vec<u8>,
}

impl TraceWriter {
    /// A writer into `dir` (created if missing). `header` opens every file.
    ///
    /// # Errors
    /// The folder cannot be created, or the header does not encode.
    pub fn new(
        dir: &Path,
        header: &TraceHeader,
        max_file_bytes: u64,
        max_files: u32,
    ) -> std::io::Result<TraceWriter> {
        std::fs::create_dir_all(dir)?;
        let preamble = encode_preamble(header).map_err(std::io::Error::other)?;
        Ok(TraceWriter {
            dir: dir.to_owned(),
            preamble,
            max_file_bytes,
            max_files: max_files.max(1),
            current: None,
            file_number: 0,
            scratch: Vec::new(),
        })
    }

    /// Appends one record (flushed to the OS: a crash loses at most the record being
    /// written, which the reader reports as a truncated last frame).
    ///
    /// # Errors
    /// IO errors, or a record that does not encode.
    pub fn record(&mut self, record: &TraceRecord) -> std::io::Result<()> {
        self.scratch.clear();
        encode_frame(record, &mut self.scratch).map_err(std::io::Error::other)?;
        if self.current.as_ref().is_none_or(|(_, size)| *size >= self.max_file_bytes) {
            self.rotate(record.now_unix_millis)?;
        }
        if let Some((w, size)) = self.current.as_mut() {
            w.write_all(&self.scratch)?;
            w.flush()?;
            *size = size.saturating_add(self.scratch.len() as u64);
        }
        Ok(())
    }

    /// Flushes and syncs the current file.
    ///
    /// # Errors
    /// IO errors.
    pub fn sync(&mut self) -> std::io::Result<()> {
        if let Some((w, _)) = self.current.as_mut() {
            w.flush()?;
            w.get_ref().sync_data()?;
        }
        Ok(())
    }

    fn rotate(&mut self, now_unix_millis: u64) -> std::io::Result<()> {
        self.sync()?;
        self.file_number = self.file_number.saturating_add(1);
        let name = format!("trace-{now_unix_millis:013}-{:06}.{EXTENSION}", self.file_number);
        let file = OpenOptions::new().create(true).append(true).open(self.dir.join(name))?;
        let mut w = BufWriter::new(file);
        w.write_all(&self.preamble)?;
        self.current = Some((w, self.preamble.len() as u64));
        self.prune()
    }

    fn prune(&self) -> std::io::Result<()> {
        let files = trace_files(&self.dir)?;
        let keep = self.max_files as usize;
        for old in files.iter().take(files.len().saturating_sub(keep)) {
            std::fs::remove_file(old)?;
        }
        Ok(())
    }
}

/// The trace files in `dir`, oldest first.
///
/// # Errors
/// The folder cannot be read.
pub fn trace_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("trace-") && n.ends_with(&format!(".{EXTENSION}")))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Reads one trace file: its header and records.
///
/// # Errors
/// IO errors, or the [`TraceError`] naming what is wrong with the file.
pub fn read_file(path: &Path) -> Result<(TraceHeader, Vec<TraceRecord>), ReadError> {
    let bytes = std::fs::read(path)?;
    Ok(ssv_core::trace::read_node_trace(&bytes)?)
}

/// Why a trace file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Its contents.
    #[error(transparent)]
    Format(#[from] TraceError),
}

enum Msg {
    Record(Box<TraceRecord>),
    Sync(std::sync::mpsc::Sender<()>),
}

/// One traced `handle` call in progress: from [`NodeTracer::begin`] to
/// [`NodeTracer::finish`].
#[derive(Debug)]
pub struct Pending {
    core: CoreRef,
    now: UnixMillis,
    input: Input,
}

/// The driver's recorder: captures each `handle` call and sends it to the writer thread.
#[derive(Debug)]
pub struct NodeTracer {
    tx: SyncSender<Msg>,
    seq: u64,
    dropped: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

impl NodeTracer {
    /// Starts the writer thread over `writer`.
    ///
    /// # Errors
    /// The thread cannot be spawned.
    pub fn start(writer: TraceWriter) -> std::io::Result<NodeTracer> {
        let (tx, rx) = sync_channel(CHANNEL_CAPACITY);
        let thread = std::thread::Builder::new()
            .name("ssv-trace".into())
            .spawn(move || write_loop(writer, &rx))?;
        Ok(NodeTracer { tx, seq: 0, dropped: Arc::new(AtomicU64::new(0)), thread: Some(thread) })
    }

    /// Starts capturing the answers of the `handle(now, input)` call that follows on this
    /// thread.
    pub fn begin(&self, core: CoreRef, now: UnixMillis, input: &Input) -> Pending {
        CAPTURE.with_borrow_mut(|c| *c = Some(Vec::new()));
        Pending { core, now, input: input.clone() }
    }

    /// Ends the capture and queues the record (dropped and counted when the writer lags).
    pub fn finish(&mut self, p: Pending, result: &Result<(), RunnerError>, outputs: &[Output]) {
        let answers = CAPTURE.with_borrow_mut(Option::take).unwrap_or_default();
        let record = TraceRecord {
            seq: self.seq,
            now_unix_millis: p.now,
            core: p.core,
            input: p.input,
            answers,
            outputs: outputs_digest(result, outputs),
        };
        self.seq = self.seq.saturating_add(1);
        match self.tx.try_send(Msg::Record(Box::new(record))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Records dropped because the writer lagged (or stopped).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records handed out so far (written or dropped).
    pub fn records(&self) -> u64 {
        self.seq
    }

    /// Waits until every queued record is written and the file synced (a blocking call:
    /// for shutdown and tests).
    pub fn sync(&self) {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.tx.send(Msg::Sync(tx)).is_ok() {
            let _ = rx.recv();
        }
    }
}

impl Drop for NodeTracer {
    fn drop(&mut self) {
        self.sync();
        // The thread ends when every sender is gone.
        let (tx, _) = sync_channel(1);
        drop(std::mem::replace(&mut self.tx, tx));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn write_loop(mut writer: TraceWriter, rx: &Receiver<Msg>) {
    let mut failed = false;
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Record(r) if !failed => {
                if let Err(e) = writer.record(&r) {
                    // One error a run: the trace is incomplete from here on.
                    tracing::error!(error = %e, "trace write failed; tracing stops");
                    failed = true;
                }
            }
            Msg::Record(_) => {}
            Msg::Sync(done) => {
                if let Err(e) = writer.sync() {
                    tracing::warn!(error = %e, "trace sync failed");
                }
                let _ = done.send(());
            }
        }
    }
    let _ = writer.sync();
}

#[cfg(test)]
mod tests;
