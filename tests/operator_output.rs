//! What an operator sees: the live progress line on a terminal (and not in a pipe), the block
//! summary and its JSON, the bottleneck verdict, JSON log lines, the run log file, and secrets
//! masked everywhere — including lines the plugins print themselves.

mod common;
#[path = "common/run.rs"]
mod support;

use common::eltr;
use serde_json::Value;
use std::process::Command;

const SECRET: &str = "pa55-Wh1sper-9";

fn summary(p: &common::TempProject, args: &[&str]) -> (common::Run, Value) {
    let file = p.tmp().join("summary.json");
    let mut all: Vec<&str> = vec!["run"];
    all.extend_from_slice(args);
    let file_s = file.to_str().unwrap().to_string();
    all.extend_from_slice(&["--summary-json", &file_s]);
    let run = eltr(&p.dir, &all, &[]);
    let json = serde_json::from_slice(&std::fs::read(&file).expect("summary written")).unwrap();
    (run, json)
}

#[test]
fn summary_counts_equal_what_the_tap_emitted_per_stream() {
    let p = support::project("run-output");
    let (run, s) = summary(&p, &["tap-two", "target-y"]);
    run.success();
    let block = &s["blocks"][0];
    assert_eq!(block["records"], 80, "{s}");
    assert_eq!(block["streams"]["orders"]["records"], 40);
    assert_eq!(block["streams"]["customers"]["records"], 40);
    assert!(block["streams"]["orders"]["bytes"].as_u64().unwrap() > 40 * 100);
    assert_eq!(block["state_id"], "dev:tap-two-to-target-y");
    assert!(block["states_confirmed"].as_u64().unwrap() >= 1);
    let kinds: Vec<&str> = block["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["extractor", "loader"]);
    // The human table says the same.
    run.stderr_has("orders")
        .stderr_has("customers")
        .stderr_has("80 records");
}

#[test]
fn a_slow_target_is_reported_target_bound() {
    let p = support::project("run-output");
    let (run, s) = summary(&p, &["tap-fast", "target-slow"]);
    run.success().stderr_has("target-bound");
    assert_eq!(s["blocks"][0]["verdict"], "target-bound", "{s}");
}

#[test]
fn a_slow_tap_is_reported_tap_bound() {
    let p = support::project("run-output");
    let (run, s) = summary(&p, &["tap-slow", "target-y"]);
    run.success().stderr_has("tap-bound");
    assert_eq!(s["blocks"][0]["verdict"], "tap-bound", "{s}");
}

#[test]
fn json_logs_parse_line_by_line_with_run_and_state_ids() {
    let p = support::project("run-output");
    let run = eltr(
        &p.dir,
        [
            "run",
            "--log-format",
            "json",
            "tap-two",
            "target-y",
            "--run-id",
            "00000000-0000-4000-8000-000000000042",
        ],
        &[],
    );
    run.success();
    let mut plugin_lines = 0;
    for line in run.stderr.lines().filter(|l| l.starts_with('{')) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["timestamp"].is_string() && v["level"].is_string() && v["message"].is_string(),
            "{line}"
        );
        if v["plugin"].is_string() {
            plugin_lines += 1;
            assert_eq!(
                v["run_id"], "00000000-0000-4000-8000-000000000042",
                "{line}"
            );
            assert_eq!(v["state_id"], "dev:tap-two-to-target-y", "{line}");
        }
    }
    assert!(plugin_lines >= 3, "{}", run.stderr);
    // Every event line is JSON; only the human summary table is not.
    let not_json: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.starts_with('{') && !l.starts_with("  ") && !l.contains("records,"))
        .collect();
    assert!(not_json.is_empty(), "{not_json:?}");
}

#[test]
fn under_json_logs_the_final_error_is_a_json_line_too() {
    let p = support::project("run-output");
    let run = eltr(
        &p.dir,
        ["run", "--log-format", "json", "tap-twoo", "target-y"],
        &[],
    );
    run.failure();
    let last = run.stderr.lines().last().unwrap_or_default();
    let v: Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {last}"));
    assert_eq!(v["level"], "error", "{last}");
    assert!(v["timestamp"].is_string(), "{last}");
    let message = v["message"].as_str().unwrap_or_default();
    assert!(message.contains("tap-twoo"), "{last}");
    assert!(message.contains("tap-two"), "no did-you-mean: {last}");
    assert!(
        run.stderr.lines().all(|l| l.starts_with('{')),
        "{}",
        run.stderr
    );
}

#[test]
fn a_password_the_plugin_prints_is_masked_in_output_and_run_log() {
    let p = support::project("run-output");
    let run = eltr(
        &p.dir,
        [
            "run",
            "tap-two",
            "target-y",
            "--run-id",
            "00000000-0000-4000-8000-00000000abcd",
        ],
        &[],
    );
    run.success().stderr_has("connecting with password=*****");
    assert!(!run.stderr.contains(SECRET) && !run.stdout.contains(SECRET));
    let log = p.path(".eltr/logs/dev:tap-two-to-target-y/00000000-0000-4000-8000-00000000abcd.log");
    let text = std::fs::read_to_string(&log).expect("run log kept");
    assert!(text.contains("connecting with password=*****"), "{text}");
    assert!(!text.contains(SECRET));
}

/// Runs eltr under a pseudo-terminal (`script`), as a person at a terminal would.
fn under_pty(p: &common::TempProject, args: &str) -> String {
    let cmd = format!("{} {args}", common::eltr_bin().display());
    let out = Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .current_dir(&p.dir)
        .env("TERM", "xterm")
        .output()
        .expect("script(1) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn progress_is_drawn_on_a_terminal_and_not_in_a_pipe() {
    let p = support::project("run-output");
    let tty = under_pty(&p, "run tap-slow target-y");
    assert!(
        tty.contains("states confirmed"),
        "no progress line on a terminal:\n{tty}"
    );
    let never = under_pty(&p, "run tap-slow target-y --progress never");
    assert!(!never.contains("states confirmed"), "{never}");
    let piped = eltr(&p.dir, ["run", "tap-slow", "target-y"], &[]);
    piped.success();
    assert!(
        !piped.stderr.contains("states confirmed"),
        "{}",
        piped.stderr
    );
    let forced = eltr(
        &p.dir,
        ["run", "tap-slow", "target-y", "--progress", "always"],
        &[],
    );
    forced.success();
    assert!(
        forced.stderr.contains("states confirmed"),
        "{}",
        forced.stderr
    );
}

#[test]
fn metric_lines_of_plugins_are_summed_in_the_summary() {
    let p = support::project("run-output");
    let script = p.tmp().join("metric-tap");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor i in 1 2 3; do echo 'INFO METRIC: {{\"type\": \"counter\", \"metric\": \"record_count\", \"value\": 5, \"tags\": {{\"endpoint\": \"orders\"}}}}' >&2; done\nexec {}/singer_tap \"$@\"\n",
            support::examples_dir().display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let yml = p.path("meltano.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    std::fs::write(&yml, text.replace(
        "  - name: tap-fast\n",
        &format!("  - name: tap-metric\n    executable: \"{}\"\n    config: {{records: 3}}\n  - name: tap-fast\n", script.display()),
    ))
    .unwrap();
    let (run, s) = summary(&p, &["tap-metric", "target-y"]);
    run.success()
        .stderr_has("metric tap-metric record_count[orders]: 15");
    let m = &s["blocks"][0]["metrics"][0];
    assert_eq!(
        (
            m["metric"].as_str(),
            m["total"].as_f64(),
            m["points"].as_u64()
        ),
        (Some("record_count"), Some(15.0), Some(3)),
        "{s}"
    );
}
