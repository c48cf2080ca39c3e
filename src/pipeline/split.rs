//! Sharing a tap's streams out over copies of it (`--split-streams N`): which streams each
//! copy syncs, balanced by the records each stream had in the block's last successful run
//! (run metadata kept in `.eltr/stats/<state id>/streams.json`, written after every run).
//!
//! What makes a split safe is the tap's, not eltr's: its streams must be independent (no
//! child stream synced as part of its parent, no cursor shared by all streams), so that each
//! copy's bookmarks are those of its own streams only. The state check
//! (`singer::state::split_shape_problem`) refuses the states that say otherwise; the
//! checkpointer reports a copy that changes what is not its own.

use super::pump::StreamStats;
use indexmap::IndexMap;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// The streams of each copy: `streams` (in catalog order) dealt out over at most `n` copies
/// so that each copy's share of `weights` (records per stream last time) is about even. A
/// stream with no count yet weighs the average of the known ones (1 when none is known).
/// Each share lists its streams in catalog order; no share is empty.
pub fn shares(streams: &[String], weights: &IndexMap<String, u64>, n: usize) -> Vec<Vec<String>> {
    let n = n.clamp(1, streams.len().max(1));
    let known: Vec<u64> = streams
        .iter()
        .filter_map(|s| weights.get(s).copied())
        .collect();
    let unknown = match known.len() {
        0 => 1,
        k => (known.iter().sum::<u64>() / k as u64).max(1),
    };
    let weight = |s: &String| weights.get(s).copied().unwrap_or(unknown).max(1);
    // Heaviest first, each to the lightest share so far (ties: the earlier stream, the
    // lower share), which keeps the largest share within one stream of the ideal.
    let mut order: Vec<usize> = (0..streams.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(weight(&streams[i])));
    let mut load = vec![0u64; n];
    let mut owner = vec![0usize; streams.len()];
    for i in order {
        let lightest = (0..n).min_by_key(|&k| (load[k], k)).unwrap_or(0);
        load[lightest] += weight(&streams[i]);
        owner[i] = lightest;
    }
    let mut out = vec![Vec::new(); n];
    for (i, s) in streams.iter().enumerate() {
        out[owner[i]].push(s.clone());
    }
    out.retain(|share| !share.is_empty());
    out
}

/// Where the block's per-stream counts are kept.
fn stats_file(root: &Path, log_id: &str) -> PathBuf {
    crate::project::eltr_dir(root)
        .join("stats")
        .join(log_id)
        .join("streams.json")
}

/// Records per stream in the block's last successful run (empty when none is known).
pub fn last_counts(root: &Path, log_id: &str) -> IndexMap<String, u64> {
    let text = std::fs::read(stats_file(root, log_id)).unwrap_or_default();
    let doc: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
    doc["streams"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v["records"].as_u64()?)))
        .collect()
}

/// Keeps the counts of the streams a successful run synced (those of streams it did not
/// sync stay as they were). Losing this file costs only balance, so a failure to write it
/// is a warning.
pub fn record_counts(root: &Path, log_id: &str, streams: &IndexMap<String, StreamStats>) {
    if streams.is_empty() {
        return;
    }
    let path = stats_file(root, log_id);
    let old: Value = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let mut kept: Map<String, Value> = old["streams"].as_object().cloned().unwrap_or_default();
    for (name, s) in streams {
        kept.insert(
            name.clone(),
            json!({"records": s.records, "bytes": s.bytes}),
        );
    }
    let text = serde_json::to_vec_pretty(&json!({"streams": kept})).unwrap_or_default();
    let owner = crate::project::eltr_dir(root);
    if let Err(e) = crate::vocab::confine::write_replacing(&owner, &path, &text, false) {
        tracing::warn!("cannot keep the stream counts of this run: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("s{i}")).collect()
    }

    #[test]
    fn equal_streams_are_dealt_out_evenly_in_catalog_order() {
        let shares = shares(&names(8), &IndexMap::new(), 4);
        assert_eq!(
            shares,
            [["s1", "s5"], ["s2", "s6"], ["s3", "s7"], ["s4", "s8"]]
        );
    }

    #[test]
    fn heavy_streams_get_a_share_of_their_own() {
        let weights: IndexMap<String, u64> = [("s1", 1000), ("s2", 10), ("s3", 10), ("s4", 990)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let shares = shares(&names(4), &weights, 2);
        assert_eq!(shares, [vec!["s1", "s3"], vec!["s2", "s4"]]);
    }

    #[test]
    fn never_more_shares_than_streams_and_none_empty() {
        assert_eq!(shares(&names(2), &IndexMap::new(), 8).len(), 2);
        assert_eq!(shares(&names(1), &IndexMap::new(), 4), [["s1"]]);
        assert!(shares(&[], &IndexMap::new(), 4).is_empty());
    }

    #[test]
    fn a_new_stream_weighs_the_average() {
        let weights: IndexMap<String, u64> = [("s1", 100), ("s2", 100), ("s3", 100)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        // s4 is new: it weighs 100 too, so 2 + 2.
        let shares = shares(&names(4), &weights, 2);
        assert_eq!(shares.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2]);
    }
}
