"""Checks that k8s/monitoring uses only metrics and runbooks that exist.

Run by scripts/validate-monitoring; scripts/e2e runs it with --scrape while the real
binaries run. Checks:

1. Every metric name used in k8s/monitoring (the PrometheusRule expressions, the Grafana
   dashboards' targets and template variables, the promtool tests' series and
   expressions) is one that the api or the worker serves on /metrics, or one of the
   EXTERNAL metrics below. What the binaries serve is read from the workspace's source:
   every `counter!`/`gauge!`/`histogram!` call must name its metric with a string
   literal (a call that does not is itself a problem, so the scan cannot miss a metric),
   and names are rendered as metrics-exporter-prometheus renders them: counters and
   gauges under their own name (it appends no `_total`), histograms as a Prometheus
   histogram (`_bucket`, `_sum`, `_count`) when the binary's recorder sets buckets for
   them (`set_buckets_for_metric`, `set_buckets`, or a `Histogram { name: "…" }` handed
   to the shared runtime's recorder), else as a summary (the name itself
   with a `quantile` label, `_sum`, `_count`). A crate's metrics count for every binary
   that depends on it (Cargo.toml path dependencies).
2. Every EXTERNAL metric is used somewhere (the allow-list cannot rot).
3. Every alert has a summary, a description and a runbook_url that points at
   docs/operations.md, whose #anchor is `runbook-<alert name in lowercase>` and is a
   heading there (GitHub's anchor rules).
4. With --scrape: GET /metrics of the running api (LOGSPOKE_E2E_API, a URL) and worker
   (LOGSPOKE_WORKER_LISTEN, host:port). Every metric family they serve must be one the
   scan predicts for that binary, with the same type (the scan and the binaries agree),
   and every used series of a family they serve must be among the series they serve.
   Used metrics that the run did not produce yet (a counter appears on its first
   increment) are listed, not failed.

--list prints every used metric with its source and where it is used. Prints one line
per problem and a summary; exits 1 if there was any problem.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
import tomllib
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "k8s" / "monitoring"
RUNBOOK_FILE = ROOT / "docs" / "operations.md"

# Metrics that other exporters provide, with who and why. Keep every entry used (check 2).
EXTERNAL = {
    # cAdvisor (the kubelet's /metrics/cadvisor): what the kernel charges the container,
    # the number the OOM killer compares with the limit. Memory alert, Resources panels.
    "container_memory_working_set_bytes": "cAdvisor",
    # cAdvisor: CPU seconds per container. Resources panel (the HPA scales on CPU).
    "container_cpu_usage_seconds_total": "cAdvisor",
    # kube-state-metrics: the container's limits from the pod spec (resource="memory").
    "kube_pod_container_resource_limits": "kube-state-metrics",
    # YACE (yet-another-cloudwatch-exporter), AWS/SQS by QueueName, statistic Maximum:
    # the queues' depth and age exist only in CloudWatch (k8s/monitoring/README.md has
    # the YACE job). Queue panels, DLQ and backlog alerts.
    "aws_sqs_approximate_number_of_messages_visible_maximum": "YACE: ApproximateNumberOfMessagesVisible",
    "aws_sqs_approximate_number_of_messages_not_visible_maximum": "YACE: ApproximateNumberOfMessagesNotVisible",
    "aws_sqs_approximate_age_of_oldest_message_maximum": "YACE: ApproximateAgeOfOldestMessage",
}

# The binaries whose /metrics --scrape reads: crate folder -> the variable with its address.
SCRAPE = {
    "api": "LOGSPOKE_E2E_API",
    "delivery-worker": "LOGSPOKE_WORKER_LISTEN",
}

# --------------------------------------------------------------------------- sources


@dataclass
class Metric:
    """One metric the source registers: its kind and where (the first call site)."""

    name: str
    kind: str  # counter | gauge | histogram
    origin: str
    crate: str


@dataclass
class Binary:
    """A binary crate: its crates (itself + path dependencies) and recorder buckets."""

    crate: str
    crates: set[str]
    bucket_matchers: list[tuple[str, str]] = field(default_factory=list)  # (Full|Prefix|Suffix, text)
    all_buckets: bool = False

    def renders_histogram(self, name: str) -> bool:
        matches = {"Full": str.__eq__, "Prefix": str.startswith, "Suffix": str.endswith}
        return self.all_buckets or any(matches[kind](name, text) for kind, text in self.bucket_matchers)

    def series(self, metric: Metric) -> tuple[str, set[str]]:
        """The family type and the series names this binary serves for a metric."""
        if metric.kind != "histogram":
            return metric.kind, {metric.name}
        if self.renders_histogram(metric.name):
            return "histogram", {f"{metric.name}_bucket", f"{metric.name}_sum", f"{metric.name}_count"}
        return "summary", {metric.name, f"{metric.name}_sum", f"{metric.name}_count"}


MACRO = re.compile(r"\b(?:metrics::)?(counter|gauge|histogram)!\s*\(\s*")
LITERAL = re.compile(r'"([a-zA-Z_:][a-zA-Z0-9_:]*)"')
MATCHER = re.compile(r"set_buckets_for_metric\(\s*Matcher::(Full|Prefix|Suffix)\(\s*\"([^\"]+)\"")
# The shared recorder set-up (`logspoke_runtime::telemetry::metrics_handle`) takes the
# binary's histograms as `Histogram { name: "…", buckets }` literals.
RUNTIME_HISTOGRAM = re.compile(r"Histogram\s*\{\s*name:\s*\"([^\"]+)\"")


def rust_files(crate_dir: Path) -> list[Path]:
    """The crate's library and binary sources; unit-test files and tests/ are not shipped."""
    return sorted(
        p
        for p in (crate_dir / "src").rglob("*.rs")
        if p.name != "tests.rs" and "tests" not in p.relative_to(crate_dir / "src").parts[:-1]
    )


def code_of(path: Path) -> str:
    """The file with whole-line comments blanked (line numbers kept): doc comments may
    quote a macro call."""
    lines = path.read_text().splitlines()
    return "\n".join("" if line.lstrip().startswith("//") else line for line in lines)


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def workspace() -> dict[str, dict]:
    """Crate folder -> its Cargo.toml, for every workspace member."""
    root = tomllib.loads((ROOT / "Cargo.toml").read_text())
    return {m: tomllib.loads((ROOT / m / "Cargo.toml").read_text()) for m in root["workspace"]["members"]}


def binaries(crates: dict[str, dict]) -> list[Binary]:
    """The crates with a main.rs, each with every member crate it depends on."""
    by_package = {toml["package"]["name"]: folder for folder, toml in crates.items()}

    def deps(folder: str, seen: set[str]) -> set[str]:
        seen.add(folder)
        for name in crates[folder].get("dependencies", {}):
            dep = by_package.get(name)
            if dep and dep not in seen:
                deps(dep, seen)
        return seen

    return [Binary(folder, deps(folder, set())) for folder in crates if (ROOT / folder / "src" / "main.rs").exists()]


def scan_sources(problems: list[str]) -> tuple[dict[str, Metric], list[Binary]]:
    """Every metric the workspace registers, and the binaries with their recorders."""
    crates = workspace()
    metrics: dict[str, Metric] = {}
    for folder in crates:
        for path in rust_files(ROOT / folder):
            text = code_of(path)
            rel = path.relative_to(ROOT)
            for call in MACRO.finditer(text):
                where = f"{rel}:{line_of(text, call.start())}"
                literal = LITERAL.match(text, call.end())
                if not literal:
                    problems.append(
                        f"{where}: {call.group(1)}! does not name its metric with a string literal; "
                        "k8s/tools/check_metrics.py cannot see it (use a literal name)"
                    )
                    continue
                name, kind = literal.group(1), call.group(1)
                known = metrics.setdefault(name, Metric(name, kind, where, folder))
                if known.kind != kind:
                    problems.append(f"{where}: {name} is a {kind} here but a {known.kind} at {known.origin}")
    bins = binaries(crates)
    for binary in bins:
        for path in rust_files(ROOT / binary.crate):
            text = code_of(path)
            binary.bucket_matchers += MATCHER.findall(text)
            binary.bucket_matchers += [("Full", name) for name in RUNTIME_HISTOGRAM.findall(text)]
            binary.all_buckets |= ".set_buckets(" in text
            if text.count("set_buckets_for_metric(") != len(MATCHER.findall(text)):
                problems.append(
                    f"{path.relative_to(ROOT)}: a set_buckets_for_metric call without a literal "
                    "Matcher::Full/Prefix/Suffix; k8s/tools/check_metrics.py cannot tell histograms from summaries"
                )
    return metrics, bins


def exported(metrics: dict[str, Metric], bins: list[Binary]) -> dict[str, dict[str, tuple[str, str]]]:
    """Binary crate -> series name -> (family, family type), as its /metrics renders them."""
    served: dict[str, dict[str, tuple[str, str]]] = {}
    for binary in bins:
        table = served.setdefault(binary.crate, {})
        for metric in metrics.values():
            if metric.crate in binary.crates:
                kind, names = binary.series(metric)
                for name in names:
                    table[name] = (metric.name, kind)
    return served


# --------------------------------------------------------------------------- PromQL

# Functions and aggregation operators: an identifier before "(" is skipped anyway; these
# are also skipped where PromQL allows them without one (`sum by (x) (...)`).
FUNCTIONS = set(
    """abs absent absent_over_time acos acosh asin asinh atan atanh avg avg_over_time bottomk
    ceil changes clamp clamp_max clamp_min cos cosh count count_over_time count_values
    day_of_month day_of_week day_of_year days_in_month deg delta deriv exp floor group
    histogram_avg histogram_count histogram_fraction histogram_quantile histogram_stddev
    histogram_stdvar histogram_sum holt_winters double_exponential_smoothing hour idelta
    increase irate label_join label_replace last_over_time limitk limit_ratio ln log10 log2
    mad_over_time max max_over_time min min_over_time minute month pi predict_linear
    present_over_time quantile quantile_over_time rad rate resets round scalar sgn sin sinh
    sort sort_by_label sort_by_label_desc sort_desc sqrt stddev stddev_over_time stdvar
    stdvar_over_time sum sum_over_time tan tanh time timestamp topk vector year""".split()
)
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
            "offset", "bool", "inf", "nan", "start", "end"}
GRAFANA_VARIABLE = re.compile(r"\$(?:\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
MATCHERS = re.compile(r"\{[^{}]*\}")
RANGE = re.compile(r"\[[^\[\]]*\]")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
TOKEN = re.compile(
    r"(?P<number>(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?:(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*)?)"
    r"|(?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)"
)


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are no function, keyword,
    label (in `{}` or a grouping list), duration, number or Grafana variable."""
    text = GRAFANA_VARIABLE.sub(" ", expr)
    text = STRING.sub('""', text)
    text = MATCHERS.sub(" ", text)
    text = RANGE.sub(" ", text)
    text = GROUPING.sub(" ", text)
    names = set()
    for token in TOKEN.finditer(text):
        ident = token.group("ident")
        if not ident or ident.lower() in KEYWORDS or ident in FUNCTIONS:
            continue
        if text[token.end():].lstrip().startswith("("):
            continue
        names.add(ident)
    return names


LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<selector>.*\S)\s*,\s*)?[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$", re.S)
QUERY_RESULT = re.compile(r"^\s*query_result\((?P<expr>.*)\)\s*$", re.S)


def variable_metric_names(query: str) -> set[str]:
    """Metric names in a Grafana template variable's Prometheus query."""
    if m := LABEL_VALUES.match(query):
        return metric_names(m.group("selector") or "")
    if m := QUERY_RESULT.match(query):
        return metric_names(m.group("expr"))
    if query.strip().startswith(("label_names(", "metrics(")):
        return set()
    return metric_names(query)


# --------------------------------------------------------------------------- uses


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def rule_files() -> list[tuple[Path, dict]]:
    """Every PrometheusRule object under k8s/monitoring."""
    found = []
    for path in sorted(MONITORING.rglob("*.yaml")):
        if "tests" in path.relative_to(MONITORING).parts:
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "PrometheusRule":
                found.append((path, doc))
    return found


def uses_in_rules(uses: dict[str, list[str]]) -> None:
    for path, doc in rule_files():
        for group in doc.get("spec", {}).get("groups", []):
            for rule in group.get("rules", []):
                what = f"alert {rule['alert']}" if "alert" in rule else f"record {rule.get('record')}"
                for name in metric_names(str(rule.get("expr", ""))):
                    uses.setdefault(name, []).append(f"{rel(path)}: {what}")


def panels_of(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from panels_of(panel.get("panels", []))


def uses_in_dashboards(uses: dict[str, list[str]], problems: list[str]) -> None:
    for path in sorted((MONITORING / "dashboards").glob("*.json")):
        try:
            dashboard = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            problems.append(f"{rel(path)}: not valid JSON: {e}")
            continue
        for panel in panels_of(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                where = f"{rel(path)}: panel \"{panel.get('title')}\" target {target.get('refId')}"
                for name in metric_names(target.get("expr", "")):
                    uses.setdefault(name, []).append(where)
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            query = variable.get("query")
            query = query.get("query", "") if isinstance(query, dict) else str(query or "")
            for name in variable_metric_names(query):
                uses.setdefault(name, []).append(f"{rel(path)}: variable ${variable.get('name')}")


def uses_in_tests(uses: dict[str, list[str]]) -> None:
    for path in sorted((MONITORING / "tests").glob("*.yaml")):
        for test in (yaml.safe_load(path.read_text()) or {}).get("tests", []):
            where = f"{rel(path)}: test {test.get('name', '?')}"
            for series in test.get("input_series", []):
                name = series["series"].split("{", 1)[0].strip()
                uses.setdefault(name, []).append(f"{where} (input series)")
            for case in test.get("promql_expr_test", []):
                for name in metric_names(case.get("expr", "")):
                    uses.setdefault(name, []).append(f"{where} (promql_expr_test)")


# --------------------------------------------------------------------------- checks


def check_uses(uses: dict[str, list[str]], served: dict, metrics: dict[str, Metric], problems: list[str]) -> None:
    everything = {name for table in served.values() for name in table}
    for name, places in sorted(uses.items()):
        if name in everything or name in EXTERNAL:
            continue
        hint = near_miss(name, served, everything | set(EXTERNAL), metrics)
        for place in places:
            problems.append(f"{place}: unknown metric {name}: no binary exports it and it is not in EXTERNAL{hint}")
    for name in sorted(set(EXTERNAL) - set(uses)):
        problems.append(f"k8s/tools/check_metrics.py: EXTERNAL lists {name}, which nothing in k8s/monitoring uses")


def near_miss(name: str, served: dict, known: set[str], metrics: dict[str, Metric]) -> str:
    """A hint for the usual mistakes: a histogram's suffix on a summary, a typo."""
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    if base in metrics:
        metric = metrics[base]
        forms = sorted({f"a {table[base][1]} by {crate}" for crate, table in served.items() if base in table})
        series = sorted(n for table in served.values() for n, (family, _) in table.items() if family == base)
        return (f" ({base} is a {metric.kind}! at {metric.origin}, served as {' and '.join(forms)}: "
                f"{', '.join(series)})")
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.85)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors() -> set[str]:
    """The anchors of the runbook page's headings (none when the page is missing)."""
    found: set[str] = set()
    if not RUNBOOK_FILE.exists():
        return found
    fenced = False
    for line in RUNBOOK_FILE.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"#{1,6}\s+(.*)", line)):
            found.add(slug(m.group(1)))
    return found


def check_alerts(problems: list[str]) -> None:
    known = anchors()
    for path, doc in rule_files():
        for group in doc.get("spec", {}).get("groups", []):
            for rule in group.get("rules", []):
                if "alert" not in rule:
                    continue
                where = f"{rel(path)}: alert {rule['alert']}"
                notes = rule.get("annotations") or {}
                for key in ("summary", "description", "runbook_url"):
                    if not str(notes.get(key, "")).strip():
                        problems.append(f"{where}: no {key} annotation")
                url = str(notes.get("runbook_url", ""))
                page, _, anchor = url.partition("#")
                want = f"runbook-{rule['alert'].lower()}"
                if url and not page.endswith("/" + rel(RUNBOOK_FILE)):
                    problems.append(f"{where}: runbook_url points at {page}, want …/{rel(RUNBOOK_FILE)}")
                elif url and anchor != want:
                    problems.append(f"{where}: runbook_url anchor is #{anchor}, want #{want}")
                elif url and anchor not in known:
                    problems.append(
                        f"{where}: runbook_url #{anchor} is no heading in {rel(RUNBOOK_FILE)} "
                        f"(want \"### Runbook: {rule['alert']}\")"
                    )


# --------------------------------------------------------------------------- scrape


def scrape(url: str) -> tuple[dict[str, str], set[str]]:
    """Family -> type (from # TYPE) and the series names, of one /metrics."""
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (our own endpoint)
        body = response.read().decode()
    types: dict[str, str] = {}
    series: set[str] = set()
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            types[name] = kind.strip()
        elif line and not line.startswith("#"):
            series.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return types, series


def metrics_url(value: str) -> str:
    base = value if "://" in value else f"http://{value}"
    return base.rstrip("/") + "/metrics"


def check_scrape(uses: dict[str, list[str]], served: dict, problems: list[str]) -> None:
    for crate, variable in SCRAPE.items():
        address = os.environ.get(variable)
        if not address:
            problems.append(f"--scrape: {variable} is not set (scripts/e2e sets it while the binaries run)")
            continue
        url = metrics_url(address)
        try:
            types, series = scrape(url)
        except OSError as e:
            problems.append(f"--scrape: GET {url} failed: {e}")
            continue
        predicted = served.get(crate, {})
        families = {family: kind for family, kind in predicted.values()}
        for family, kind in sorted(types.items()):
            if family not in families:
                problems.append(
                    f"{url}: serves {family} ({kind}), which the source scan of {crate} does not find "
                    "(k8s/tools/check_metrics.py would call it unknown)"
                )
            elif families[family] != kind:
                problems.append(f"{url}: serves {family} as a {kind}; the source scan predicts a {families[family]}")
        idle = []
        for name in sorted(uses):
            if name not in predicted:
                continue
            family = predicted[name][0]
            if family not in types:
                idle.append(name)
            elif name not in series:
                problems.append(
                    f"{uses[name][0]}: {name} is not served by {url}, which serves {family} as "
                    f"{sorted(s for s in series if s.startswith(family))}"
                )
        print(f"check-metrics: {url}: {len(types)} families served; "
              f"{len(idle)} used metric(s) not produced by this run yet: {' '.join(idle) or '-'}", file=sys.stderr)


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrape", action="store_true", help="also compare with the running binaries' /metrics")
    parser.add_argument("--list", action="store_true", help="print every used metric, its source and its uses")
    args = parser.parse_args()

    problems: list[str] = []
    metrics, bins = scan_sources(problems)
    served = exported(metrics, bins)
    uses: dict[str, list[str]] = {}
    uses_in_rules(uses)
    uses_in_dashboards(uses, problems)
    uses_in_tests(uses)
    check_uses(uses, served, metrics, problems)
    check_alerts(problems)
    if args.scrape:
        check_scrape(uses, served, problems)
    if args.list:
        print_list(uses, served, metrics)

    for problem in problems:
        print(f"FAIL {problem}")
    ours = sum(1 for name in uses if name not in EXTERNAL)
    print(
        f"check-metrics: {len(uses)} metrics used ({ours} from the binaries, {len(uses) - ours} external), "
        f"{len(metrics)} registered in the source: {len(problems)} problem(s)"
    )
    return 1 if problems else 0


def print_list(uses: dict[str, list[str]], served: dict, metrics: dict[str, Metric]) -> None:
    for name in sorted(uses):
        sources = [f"{crate}: {served[crate][name][1]} {served[crate][name][0]} "
                   f"({metrics[served[crate][name][0]].origin})" for crate in served if name in served[crate]]
        source = "; ".join(sources) or EXTERNAL.get(name, "UNKNOWN")
        print(f"{name}\t{source}\t{len(uses[name])} use(s)")


if __name__ == "__main__":
    sys.exit(main())
