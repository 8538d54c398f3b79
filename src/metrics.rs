//! What `httpat metrics` and `tick --metrics-file` give Prometheus: the text exposition format,
//! with `# HELP` and `# TYPE` lines, base units and no per-task labels. Every figure is read
//! from counts the database keeps, never from a scan of every task.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::{AttemptCount, Store};
use crate::task::State;

/// Every series, as `--json` gives them too.
#[derive(Debug, Serialize)]
pub struct Metrics {
    /// Tasks per state, every state included.
    #[serde(serialize_with = "as_map")]
    pub tasks: Vec<(State, u64)>,
    /// How late the oldest due task is (due, or retrying whose next attempt time has passed).
    pub due_oldest_seconds: f64,
    /// Per endpoint with a limit: its due tasks the limits hold back now.
    #[serde(serialize_with = "as_map")]
    pub tasks_waiting_on_limit: Vec<(String, u64)>,
    /// When the tick that ended last ended (Unix seconds) and how long it ran; None before any.
    pub tick_last_end_timestamp_seconds: Option<f64>,
    pub tick_last_duration_seconds: Option<f64>,
    /// Attempts ever finished, per endpoint and outcome.
    pub attempts_total: Vec<AttemptCount>,
}

impl Metrics {
    pub fn gather(store: &Store, now: DateTime<Utc>) -> Result<Metrics> {
        let due_oldest_seconds = store
            .oldest_waiting(now)?
            .map(|task| seconds(now - task.next_attempt_at).max(0.0))
            .unwrap_or(0.0);
        let last = store.last_ended_tick()?;
        Ok(Metrics {
            tasks: store.state_counts(now)?,
            due_oldest_seconds,
            tasks_waiting_on_limit: store
                .limit_waits(now)?
                .iter()
                .map(|wait| (wait.endpoint.clone(), wait.waiting()))
                .collect(),
            tick_last_end_timestamp_seconds: last.map(|(_, end)| unix_seconds(end)),
            tick_last_duration_seconds: last.map(|(start, end)| seconds(end - start).max(0.0)),
            attempts_total: store.attempt_counts()?,
        })
    }

    /// The text exposition format, version 0.0.4.
    pub fn exposition(&self) -> String {
        let mut out = Exposition::default();
        out.family(
            "httpat_tasks",
            "gauge",
            "Tasks in each state (scheduled, due, running, retrying, succeeded, failed, cancelled).",
        );
        for (state, count) in &self.tasks {
            out.sample("httpat_tasks", &[("state", state.as_str())], *count as f64);
        }
        out.family(
            "httpat_due_oldest_seconds",
            "gauge",
            "How late the oldest due task is, in seconds; 0 when none is due.",
        );
        out.sample("httpat_due_oldest_seconds", &[], self.due_oldest_seconds);
        out.family(
            "httpat_tasks_waiting_on_limit",
            "gauge",
            "Due tasks an endpoint's limits (--max-in-flight, --rate) hold back now.",
        );
        for (endpoint, count) in &self.tasks_waiting_on_limit {
            out.sample(
                "httpat_tasks_waiting_on_limit",
                &[("endpoint", endpoint)],
                *count as f64,
            );
        }
        out.family(
            "httpat_tick_last_end_timestamp_seconds",
            "gauge",
            "When the last tick ended, in Unix seconds; 0 when none has ended.",
        );
        out.sample(
            "httpat_tick_last_end_timestamp_seconds",
            &[],
            self.tick_last_end_timestamp_seconds.unwrap_or(0.0),
        );
        out.family(
            "httpat_tick_last_duration_seconds",
            "gauge",
            "How long the last tick that ended ran, in seconds; 0 when none has ended.",
        );
        out.sample(
            "httpat_tick_last_duration_seconds",
            &[],
            self.tick_last_duration_seconds.unwrap_or(0.0),
        );
        out.family(
            "httpat_attempts_total",
            "counter",
            "Attempts finished, by endpoint and outcome (success, retryable, permanent, \
             interrupted, executor_error); kept in the database, never lowered by prune.",
        );
        for count in &self.attempts_total {
            out.sample(
                "httpat_attempts_total",
                &[("endpoint", &count.endpoint), ("outcome", &count.outcome)],
                count.count as f64,
            );
        }
        out.text
    }
}

/// Writes `text` to `path` atomically: a temporary file in the same folder, flushed to disk,
/// then renamed over it, so that a reader (node_exporter's textfile collector) never sees half
/// of it. The temporary name does not end in `.prom`, so the collector never reads it either.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let context = || format!("cannot write the metrics file {}", path.display());
    let name = path.file_name().with_context(context)?.to_string_lossy();
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let temporary = folder.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&temporary)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.with_context(context)
}

/// The exposition text as it is built.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        self.text
            .push_str(&format!("# HELP {name} {}\n", escape_help(help)));
        self.text.push_str(&format!("# TYPE {name} {kind}\n"));
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            let labels: Vec<String> = labels
                .iter()
                .map(|(label, value)| format!("{label}=\"{}\"", escape_label(value)))
                .collect();
            self.text.push_str(&format!("{{{}}}", labels.join(",")));
        }
        self.text.push_str(&format!(" {value}\n"));
    }
}

/// A label value as the format writes it: backslash, double quote and line feed escaped.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Pairs as a JSON object, in their order.
fn as_map<S, K, V>(pairs: &[(K, V)], serializer: S) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
    K: Serialize,
    V: Serialize,
{
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(pairs.len()))?;
    for (key, value) in pairs {
        map.serialize_entry(key, value)?;
    }
    map.end()
}

fn seconds(duration: chrono::Duration) -> f64 {
    duration.num_milliseconds() as f64 / 1000.0
}

fn unix_seconds(at: DateTime<Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_as_the_format_says() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("a\nb"), "a\\nb");
    }

    #[test]
    fn samples_carry_their_labels_and_plain_numbers() {
        let mut out = Exposition::default();
        out.family("httpat_x_total", "counter", "X.");
        out.sample(
            "httpat_x_total",
            &[("endpoint", "a"), ("outcome", "success")],
            3.0,
        );
        out.sample("httpat_y", &[], 0.25);
        assert_eq!(
            out.text,
            "# HELP httpat_x_total X.\n# TYPE httpat_x_total counter\n\
             httpat_x_total{endpoint=\"a\",outcome=\"success\"} 3\nhttpat_y 0.25\n"
        );
    }
}
