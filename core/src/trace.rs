//! The trace format: what a node records of every input it gives the core, so that a
//! real node's life can be replayed (`ssv-sim replay`). Serde types only; the shell writes
//! them (one JSON object a line) and the simulator reads them.
//!
//! A trace file is a [`TraceHeader`] line followed by [`TraceRecord`] lines, in the order
//! the inputs were handled. `I` is the core's input type (the runners' `Input`); a record
//! holds the input exactly as handed to `handle(now, input, out)`.

use serde::{Deserialize, Serialize};

/// The format version written by this build. Bumped on any incompatible change to the
/// header, the record, or the serde form of the core's input type.
pub const TRACE_FORMAT_VERSION: u32 = 1;

/// The first line of every trace file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceHeader {
    /// [`TRACE_FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// The recording node's operator id.
    pub operator_id: u64,
    /// Network name (`mainnet`, `hoodi`, `devnet`, …).
    pub network: String,
    /// The SSV domain type, `0x`-hex (4 bytes).
    pub domain_type: String,
    /// The writer's crate version.
    pub node_version: String,
}

/// One input handed to the core.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceRecord<I> {
    /// Sequence number of the record in the node's life (from 0 at start).
    pub seq: u64,
    /// The `now` passed with the input, unix milliseconds.
    pub now_unix_millis: u64,
    /// The input.
    pub input: I,
}
