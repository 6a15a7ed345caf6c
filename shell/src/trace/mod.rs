//! Recording every input the node gives the core (`--trace-dir`), in the versioned format
//! of [`ssv_core::trace`], one JSON record a line, rotated by size.
//!
//! Files are `trace-<unix millis of the first record>-<seq>.jsonl`; each starts with a
//! [`TraceHeader`] line. When a file passes `max_file_bytes` the next record opens a new
//! file, and the oldest files beyond `max_files` are deleted. Records are flushed to the
//! OS after each write (a crash loses at most the record being written, never the file).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use ssv_core::trace::{TRACE_FORMAT_VERSION, TraceHeader, TraceRecord};

/// A size-rotated trace writer.
#[derive(Debug)]
pub struct TraceWriter {
    dir: PathBuf,
    header: TraceHeader,
    max_file_bytes: u64,
    max_files: u32,
    current: Option<(BufWriter<File>, u64)>,
    seq: u64,
}

impl TraceWriter {
    /// A writer into `dir` (created if missing). `header` is repeated at the top of every
    /// file so each file replays on its own.
    pub fn new(
        dir: &Path,
        header: TraceHeader,
        max_file_bytes: u64,
        max_files: u32,
    ) -> std::io::Result<TraceWriter> {
        std::fs::create_dir_all(dir)?;
        Ok(TraceWriter {
            dir: dir.to_owned(),
            header,
            max_file_bytes,
            max_files: max_files.max(1),
            current: None,
            seq: 0,
        })
    }

    /// Appends one record.
    pub fn record<I: Serialize>(&mut self, record: &TraceRecord<I>) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        if self.current.as_ref().is_none_or(|(_, size)| *size >= self.max_file_bytes) {
            self.rotate(record.now_unix_millis)?;
        }
        if let Some((w, size)) = self.current.as_mut() {
            w.write_all(&line)?;
            w.flush()?;
            *size = size.saturating_add(line.len() as u64);
        }
        Ok(())
    }

    /// Flushes and syncs the current file.
    pub fn sync(&mut self) -> std::io::Result<()> {
        if let Some((w, _)) = self.current.as_mut() {
            w.flush()?;
            w.get_ref().sync_data()?;
        }
        Ok(())
    }

    fn rotate(&mut self, now_unix_millis: u64) -> std::io::Result<()> {
        self.sync()?;
        self.seq = self.seq.saturating_add(1);
        let path = self.dir.join(format!("trace-{now_unix_millis:013}-{:06}.jsonl", self.seq));
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let mut w = BufWriter::new(file);
        let mut header = serde_json::to_vec(&self.header).map_err(std::io::Error::other)?;
        header.push(b'\n');
        w.write_all(&header)?;
        self.current = Some((w, header.len() as u64));
        self.prune()
    }

    fn prune(&self) -> std::io::Result<()> {
        let mut files = trace_files(&self.dir)?;
        let keep = self.max_files as usize;
        if files.len() > keep {
            files.sort();
            for old in files.iter().take(files.len() - keep) {
                std::fs::remove_file(old)?;
            }
        }
        Ok(())
    }
}

/// The trace files in `dir`, oldest first.
pub fn trace_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("trace-") && n.ends_with(".jsonl"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Reads one trace file: its header and records. Refuses another format version.
pub fn read_file<I: serde::de::DeserializeOwned>(
    path: &Path,
) -> std::io::Result<(TraceHeader, Vec<TraceRecord<I>>)> {
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines();
    let header: TraceHeader =
        serde_json::from_str(lines.next().unwrap_or_default()).map_err(std::io::Error::other)?;
    if header.format_version != TRACE_FORMAT_VERSION {
        return Err(std::io::Error::other(format!(
            "trace format version {} (this build reads {TRACE_FORMAT_VERSION})",
            header.format_version
        )));
    }
    let records = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(std::io::Error::other))
        .collect::<Result<_, _>>()?;
    Ok((header, records))
}

#[cfg(test)]
mod tests;
