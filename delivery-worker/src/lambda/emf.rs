//! The worker's counters as CloudWatch Embedded Metric Format log lines: a Lambda
//! function has no scrape endpoint, but CloudWatch Logs turns EMF lines into metrics.
//!
//! After each invocation the counters the worker keeps (the same ones `/metrics` serves
//! from a replica) are rendered and compared with the last flush; what grew is written
//! as one JSON line per label set, with the labels as dimensions and the increase as the
//! value, under the namespace [`NAMESPACE`]. Histograms and gauges stay in the process:
//! their meaning across invocations of many environments is not a sum.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

/// Where the metrics appear in CloudWatch.
pub const NAMESPACE: &str = "Logspoke/Worker";

/// One counter's value: its name and labels (in the order rendered).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Series {
    name: String,
    labels: Labels,
}

/// Label pairs, in the order rendered.
type Labels = Vec<(String, String)>;

/// What was flushed so far.
#[derive(Debug, Default)]
pub struct Flusher {
    last: HashMap<Series, f64>,
}

impl Flusher {
    /// The EMF lines for what the counters in `rendered` (Prometheus text) gained since
    /// the last call, stamped `timestamp_ms`.
    pub fn lines(&mut self, rendered: &str, timestamp_ms: i64) -> Vec<String> {
        let mut grown: BTreeMap<Labels, Vec<(String, f64)>> = BTreeMap::new();
        for (series, value) in counters(rendered) {
            let before = self.last.insert(series.clone(), value).unwrap_or(0.0);
            let delta = value - before;
            if delta > 0.0 {
                grown.entry(series.labels).or_default().push((series.name, delta));
            }
        }
        grown
            .into_iter()
            .map(|(labels, metrics)| document(&labels, &metrics, timestamp_ms).to_string())
            .collect()
    }
}

/// One EMF document: the label set as dimensions, every metric that grew under it.
fn document(labels: &[(String, String)], metrics: &[(String, f64)], timestamp_ms: i64) -> Value {
    let dimensions: Vec<&str> = labels.iter().map(|(k, _)| k.as_str()).collect();
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions],
                "Metrics": definitions,
            }],
        }),
    );
    for (key, value) in labels {
        root.insert(key.clone(), Value::String(value.clone()));
    }
    for (name, delta) in metrics {
        root.insert(name.clone(), json!(delta));
    }
    Value::Object(root)
}

/// The counter samples of Prometheus text (those under a `# TYPE … counter` line).
fn counters(rendered: &str) -> Vec<(Series, f64)> {
    let mut kinds: HashMap<&str, &str> = HashMap::new();
    let mut samples = Vec::new();
    for line in rendered.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some((name, kind)) = rest.split_once(' ') {
                kinds.insert(name, kind.trim());
            }
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((series, value)) = sample(line) else {
            continue;
        };
        if kinds.get(series.name.as_str()) == Some(&"counter") {
            samples.push((series, value));
        }
    }
    samples
}

/// `name{key="value",…} 12` or `name 12`.
fn sample(line: &str) -> Option<(Series, f64)> {
    let (head, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let (name, labels) = match head.split_once('{') {
        Some((name, rest)) => (name, labels(rest.strip_suffix('}')?)?),
        None => (head, Vec::new()),
    };
    Some((
        Series {
            name: name.to_owned(),
            labels,
        },
        value,
    ))
}

/// `key="value",…` with Prometheus's escapes (`\\`, `\"`, `\n`) in values.
fn labels(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (_, c) => value.push(c),
            }
        };
        out.push((key.trim_start_matches(',').to_owned(), value));
        rest = after[end + 1..].trim_start_matches(',');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RENDERED: &str = "\
# TYPE logspoke_worker_events_delivered_total counter
logspoke_worker_events_delivered_total{tenant_id=\"acme\"} 120
logspoke_worker_events_delivered_total{tenant_id=\"globex\"} 7
# TYPE logspoke_worker_bytes_delivered_total counter
logspoke_worker_bytes_delivered_total{tenant_id=\"acme\"} 4096
# TYPE logspoke_worker_config_items gauge
logspoke_worker_config_items 3
# TYPE logspoke_worker_bad_lines_total counter
logspoke_worker_bad_lines_total 2
# TYPE logspoke_worker_aws_calls_total counter
logspoke_worker_aws_calls_total{api=\"GetObject\",outcome=\"we\\\"ird\\\\\"} 1
";

    fn parsed(lines: &[String]) -> Vec<Value> {
        lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[test]
    fn counters_become_one_document_per_label_set_with_the_labels_as_dimensions() {
        let docs = parsed(&Flusher::default().lines(RENDERED, 1_700_000_000_000));
        assert_eq!(docs.len(), 4, "{docs:#?}");
        let acme = docs.iter().find(|d| d["tenant_id"] == "acme").unwrap();
        assert_eq!(acme["logspoke_worker_events_delivered_total"], 120.0);
        assert_eq!(acme["logspoke_worker_bytes_delivered_total"], 4096.0);
        let spec = &acme["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(spec["Namespace"], NAMESPACE);
        assert_eq!(spec["Dimensions"], json!([["tenant_id"]]));
        assert_eq!(spec["Metrics"].as_array().unwrap().len(), 2);
        assert_eq!(acme["_aws"]["Timestamp"], 1_700_000_000_000i64);
        // No labels: no dimensions. Gauges are not sent.
        let bare = docs
            .iter()
            .find(|d| d.get("logspoke_worker_bad_lines_total").is_some())
            .unwrap();
        assert_eq!(bare["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([[]]));
        assert!(docs
            .iter()
            .all(|d| d.get("logspoke_worker_config_items").is_none()));
        // Escaped label values are read back as written.
        let calls = docs.iter().find(|d| d["api"] == "GetObject").unwrap();
        assert_eq!(calls["outcome"], "we\"ird\\");
    }

    #[test]
    fn each_flush_sends_only_what_grew_since_the_last() {
        let mut flusher = Flusher::default();
        flusher.lines(RENDERED, 0);
        assert!(flusher.lines(RENDERED, 1).is_empty(), "nothing grew");
        let grown = RENDERED.replace("{tenant_id=\"globex\"} 7", "{tenant_id=\"globex\"} 10");
        let docs = parsed(&flusher.lines(&grown, 2));
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["tenant_id"], "globex");
        assert_eq!(docs[0]["logspoke_worker_events_delivered_total"], 3.0);
    }
}
