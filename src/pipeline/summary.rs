//! What a finished block reports: records per stream, bytes, time, where the pipe waited
//! (which side was the bottleneck), and where its state went.

use super::pump::PumpStats;
use indexmap::IndexMap;
use serde::Serialize;
use std::time::Duration;

/// One block's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct BlockSummary {
    pub block: String,
    pub state_id: Option<String>,
    pub store: Option<String>,
    pub records: u64,
    pub records_by_stream: IndexMap<String, u64>,
    pub bytes: u64,
    pub seconds: f64,
    pub states_confirmed: u64,
    pub state_writes: u64,
    /// Seconds eltr waited for the extractor to produce data.
    pub waited_on_extractor: f64,
    /// Seconds eltr waited for the loader (or next mapper) to take data.
    pub waited_on_loader: f64,
    pub verdict: &'static str,
}

impl BlockSummary {
    /// Builds the summary from the first hop's counters.
    pub fn new(block: String, first_hop: &PumpStats, elapsed: Duration) -> BlockSummary {
        let read = first_hop.read_wait.as_secs_f64();
        let write = first_hop.write_wait.as_secs_f64();
        let verdict = if read > 2.0 * write && read > 0.05 {
            "tap-bound"
        } else if write > 2.0 * read && write > 0.05 {
            "target-bound"
        } else {
            "balanced"
        };
        BlockSummary {
            block,
            state_id: None,
            store: None,
            records: first_hop.records,
            records_by_stream: first_hop.records_by_stream.clone(),
            bytes: first_hop.bytes,
            seconds: elapsed.as_secs_f64(),
            states_confirmed: 0,
            state_writes: 0,
            waited_on_extractor: read,
            waited_on_loader: write,
            verdict,
        }
    }

    /// The human summary printed on stderr at the end of the block.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{}: {} records, {:.1} MB in {:.2}s ({})",
            self.block,
            self.records,
            self.bytes as f64 / 1e6,
            self.seconds,
            self.verdict
        );
        for (stream, n) in &self.records_by_stream {
            out.push_str(&format!("\n  stream {stream}: {n} records"));
        }
        if let (Some(id), Some(store)) = (&self.state_id, &self.store) {
            out.push_str(&format!(
                "\n  state '{id}': {} confirmed, {} written to {store}",
                self.states_confirmed, self.state_writes
            ));
        }
        out
    }
}
