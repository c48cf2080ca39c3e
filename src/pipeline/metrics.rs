//! Singer `METRIC` log lines (`INFO METRIC: {"type": "counter", "metric": "record_count",
//! "value": 10, "tags": {...}}`), gathered from plugins' stderr and summed per plugin,
//! metric and stream for the run summary.

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;
use std::sync::Mutex;

/// One aggregated metric.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct MetricTotal {
    pub plugin: String,
    pub metric: String,
    /// The stream (or endpoint) tag, when the metric has one.
    pub stream: Option<String>,
    /// `counter` or `timer`.
    pub kind: String,
    /// Sum of values (counters: the count; timers: seconds).
    pub total: f64,
    /// How many METRIC lines were summed.
    pub points: u64,
}

/// Which plugin, metric and stream a total belongs to.
type MetricKey = (String, String, Option<String>);

/// Metrics of one block, filled from several stderr threads.
#[derive(Debug, Default)]
pub struct Metrics {
    totals: Mutex<IndexMap<MetricKey, MetricTotal>>,
}

impl Metrics {
    /// Records the line if it is a METRIC line; returns whether it was one.
    pub fn observe(&self, plugin: &str, line: &str) -> bool {
        let Some(at) = line.find("METRIC: ") else {
            return false;
        };
        let Ok(v) = serde_json::from_str::<Value>(line[at + "METRIC: ".len()..].trim()) else {
            return false;
        };
        let metric = v["metric"].as_str().unwrap_or("unknown").to_string();
        let kind = v["type"].as_str().unwrap_or("counter").to_string();
        let value = v["value"].as_f64().unwrap_or(0.0);
        let tags = &v["tags"];
        let stream = ["stream", "endpoint", "tap_stream_id"]
            .iter()
            .find_map(|k| tags[*k].as_str())
            .map(String::from);
        let key = (plugin.to_string(), metric.clone(), stream.clone());
        let mut totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        let t = totals.entry(key).or_insert_with(|| MetricTotal {
            plugin: plugin.to_string(),
            metric,
            stream,
            kind,
            ..MetricTotal::default()
        });
        t.total += value;
        t.points += 1;
        true
    }

    /// Everything gathered, in first-seen order.
    pub fn totals(&self) -> Vec<MetricTotal> {
        self.totals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

/// A singer-sdk JSON log line (`{"level": "INFO", "message": "..."}`) as plain text, so
/// operators read messages rather than JSON.
pub fn readable(line: &str) -> Option<String> {
    let t = line.trim_start();
    if !t.starts_with('{') {
        return None;
    }
    let v: Value = serde_json::from_str(t).ok()?;
    let message = v.get("message").or_else(|| v.get("msg"))?.as_str()?;
    let level = v
        .get("level")
        .or_else(|| v.get("levelname"))
        .and_then(Value::as_str)
        .unwrap_or("INFO")
        .to_ascii_uppercase();
    Some(format!("{level} {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_summed_per_stream() {
        let m = Metrics::default();
        let line = r#"INFO METRIC: {"type": "counter", "metric": "record_count", "value": 10, "tags": {"endpoint": "users"}}"#;
        assert!(m.observe("tap", line));
        assert!(m.observe("tap", line));
        assert!(!m.observe("tap", "INFO hello"));
        let t = m.totals();
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].total, t[0].points), (20.0, 2));
        assert_eq!(t[0].stream.as_deref(), Some("users"));
    }

    #[test]
    fn sdk_json_lines_become_text() {
        assert_eq!(
            readable(r#"{"level": "info", "message": "Beginning sync", "name": "tap"}"#).as_deref(),
            Some("INFO Beginning sync")
        );
        assert_eq!(readable("plain"), None);
    }
}
