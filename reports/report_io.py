"""Shared loader for `bench --report` files (Google Benchmark JSON plus quantbench's context keys),
used by compare.py and dashboard.py.

A report is `{"context": {...}, "benchmarks": [...]}`. Files from older bench builds, or from a
Google Benchmark that writes fewer fields, may lack run_type, repetition_index, aggregate_name,
run_name and any of quantbench's context keys; the loader fills them in the same way every time so
that the tools never have to ask whether a field exists.

Bad input raises ReportError, whose message names the file and the JSON field; the tools print it
and exit 2 instead of showing a stack trace.
"""
import datetime
import json
import math
import os
import re
import statistics

AGGREGATE_SUFFIXES = ("_mean", "_median", "_stddev", "_cv")
UNKNOWN_HARDWARE = "unknown"
# Google Benchmark's time units, as multipliers to nanoseconds.
TIME_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
COUNTERS = ("weight_GBps", "probe_GBps", "bw_fraction", "ns_per_weight", "tsc_cycles_per_weight",
            "speedup_vs_ref", "out_GBps")
PROBE_KEY = re.compile(r"^probe_read_GBps_threads_(\d+)$")
# A date before any real report: files without context.date sort first, deterministically.
NO_DATE = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


class ReportError(Exception):
    """Unreadable or malformed report; str() names the file and the field."""

    def __init__(self, path, field, message):
        self.path, self.field = path, field
        where = "%s: %s" % (path, field) if field else path
        super().__init__("%s: %s" % (where, message))


class RowKey:
    """What a row measured, parsed from its run name:
    <format>/<op>/<variant>/<R>x<C>[/<tag>][/m:<M>]/threads:<N>[/manual_time]."""

    __slots__ = ("fmt", "op", "variant", "shape", "tag", "batch", "threads")

    def __init__(self, fmt, op, variant, shape, tag, batch, threads):
        self.fmt, self.op, self.variant = fmt, op, variant
        self.shape, self.tag, self.batch, self.threads = shape, tag, batch, threads

    @property
    def op_batch(self):
        """The op as plotted: a batched GEMV is a different workload from m = 1."""
        return self.op if self.batch == 1 else "%s m=%d" % (self.op, self.batch)

    @property
    def shape_tag(self):
        """Shape plus the family's parameters: both are part of what was measured."""
        return self.shape + ("/" + self.tag if self.tag else "")


def parse_run_name(run_name, row_threads=None):
    """RowKey for a bench row name, or None when the name is not bench's layout."""
    parts = run_name.split("/")
    if len(parts) < 4:
        return None
    fmt, op, variant, shape = parts[:4]
    rest = parts[4:]
    if rest and rest[-1] == "manual_time":
        rest = rest[:-1]
    threads = row_threads
    if rest and rest[-1].startswith("threads:"):
        threads = _int_or_none(rest.pop()[len("threads:"):])
    batch = 1
    if rest and rest[-1].startswith("m:"):
        batch = _int_or_none(rest.pop()[len("m:"):])
    if threads is None or batch is None:
        return None
    # The tag may itself contain '/' (an EXL2 option such as 0.25:4b/0.75:2b), so it is what is
    # left between the shape and the m:/threads: parts.
    return RowKey(fmt, op, variant, shape, "/".join(rest), batch, threads)


def _int_or_none(text):
    try:
        return int(text)
    except ValueError:
        return None


class Run:
    """One benchmark of a report (one run_name): its repetitions and its aggregate rows."""

    def __init__(self, run_name, key):
        self.run_name, self.key = run_name, key
        self.label = ""  # the variant's ISA, e.g. "avx512" or "avx2 @ plugin:libx.so"
        self.reps = []  # iteration rows: dicts with real_time_ns and the counters present
        self.aggregates = {}  # aggregate name -> row

    @property
    def is_peer(self):
        """An external kernel loaded with --plugin (its label says where it came from)."""
        return "@ plugin" in self.label

    def samples(self, field):
        """Per-repetition values of a field; a file written with aggregates only gives its
        median (else mean) as the one sample it has."""
        values = [r[field] for r in self.reps if field in r]
        if values:
            return values
        for name in ("median", "mean"):
            row = self.aggregates.get(name)
            if row is not None and field in row:
                return [row[field]]
        return []

    def median(self, field):
        values = self.samples(field)
        return statistics.median(values) if values else None


class Report:
    """One report file, or several files of one hardware id and commit merged (merge_reports)."""

    def __init__(self, path, context):
        self.paths = [path]
        self.context = context
        self.hardware_id = str(context.get("hardware_id") or UNKNOWN_HARDWARE)
        self.version = str(context.get("quantbench_version") or "")
        self.commit = str(context.get("git_commit") or "")
        self.date = _parse_date(path, context)
        self.probes = _parse_probes(path, context)  # threads -> GB/s
        self.variant_isa = _parse_json_string(path, context, "variant_isa")
        self.skipped_variants = _parse_json_string(path, context, "skipped_variants")
        self.runs = {}  # run_name -> Run, in file order
        self.errored = []  # run names whose rows report error_occurred

    @property
    def path(self):
        return self.paths[0]

    @property
    def label(self):
        """version-commit, as the report's file name has it; the file name for older files."""
        if self.version and self.commit:
            return "%s-%s" % (self.version, self.commit)
        return os.path.splitext(os.path.basename(self.path))[0]

    @property
    def date_text(self):
        return "" if self.date == NO_DATE else self.date.strftime("%Y-%m-%d %H:%M")

    def sort_key(self):
        return (self.date, self.label, self.path)

    def probe(self, threads):
        """Read bandwidth at a thread count: the context's start-up probe, else the median of the
        per-row probes at that thread count (older files), else None."""
        if threads in self.probes:
            return self.probes[threads]
        values = [v for run in self.runs.values() if run.key and run.key.threads == threads
                  for v in run.samples("probe_GBps")]
        return statistics.median(values) if values else None

    def isa_of(self, run):
        return run.label or self.variant_isa.get(run.key.variant if run.key else "", "") or "?"


def load_report(path):
    """Read and check one report file; raises ReportError naming the file and field."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise ReportError(path, None, "cannot read: %s" % (e.strerror or e)) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ReportError(path, None, "not JSON: %s" % e) from None
    if not isinstance(doc, dict):
        raise ReportError(path, None, "expected a JSON object with context and benchmarks")
    context = doc.get("context", {})
    if not isinstance(context, dict):
        raise ReportError(path, "context", "expected an object")
    rows = doc.get("benchmarks")
    if not isinstance(rows, list):
        raise ReportError(path, "benchmarks", "missing or not a list")
    report = Report(path, context)
    for i, row in enumerate(rows):
        _add_row(report, path, "benchmarks[%d]" % i, row)
    return report


def _add_row(report, path, where, row):
    if not isinstance(row, dict):
        raise ReportError(path, where, "expected an object")
    name = row.get("name")
    if not isinstance(name, str) or not name:
        raise ReportError(path, where + ".name", "missing or not a string")
    suffix = next((s for s in AGGREGATE_SUFFIXES if name.endswith(s)), "")
    run_type = row.get("run_type") or ("aggregate" if suffix or "aggregate_name" in row else "iteration")
    run_name = row.get("run_name") or (name[:-len(suffix)] if suffix else name)
    if not isinstance(run_name, str):
        raise ReportError(path, where + ".run_name", "not a string")
    threads = row.get("threads") if isinstance(row.get("threads"), int) else None
    run = report.runs.get(run_name)
    if run is None:
        run = report.runs[run_name] = Run(run_name, parse_run_name(run_name, threads))
    if row.get("error_occurred"):
        # A failed row has no meaningful time; note it, do not let it vote.
        if run_name not in report.errored:
            report.errored.append(run_name)
        return
    if isinstance(row.get("label"), str) and row["label"]:
        run.label = row["label"]
    values = _row_values(path, where, row)
    if run_type == "aggregate":
        agg = row.get("aggregate_name") or (suffix[1:] if suffix else "aggregate")
        run.aggregates[str(agg)] = values
        return
    # Files without repetition_index number their repetitions in file order.
    values["repetition_index"] = row.get("repetition_index", len(run.reps))
    run.reps.append(values)


def _row_values(path, where, row):
    unit = row.get("time_unit", "ns")
    if unit not in TIME_UNIT_NS:
        raise ReportError(path, where + ".time_unit", "unknown unit %r (expected one of %s)"
                          % (unit, ", ".join(TIME_UNIT_NS)))
    values = {}
    for field in ("real_time", "cpu_time"):
        if field not in row and field == "cpu_time":
            continue
        values[field + "_ns"] = _number(path, "%s.%s" % (where, field), row.get(field)) * TIME_UNIT_NS[unit]
    for field in COUNTERS:
        if field in row:
            values[field] = _number(path, "%s.%s" % (where, field), row[field])
    return values


def _number(path, field, value):
    # bool is an int in Python; a true/false time is still malformed.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ReportError(path, field, "missing or not a finite number (got %r)" % (value,))
    return float(value)


def _parse_date(path, context):
    text = context.get("date")
    if text is None:
        return NO_DATE
    try:
        date = datetime.datetime.fromisoformat(str(text))
    except ValueError:
        raise ReportError(path, "context.date", "not an ISO date: %r" % (text,)) from None
    # Naive dates (no offset) are taken as UTC so that they order against dated ones.
    return date if date.tzinfo else date.replace(tzinfo=datetime.timezone.utc)


def _parse_probes(path, context):
    probes = {}
    for key, value in context.items():
        m = PROBE_KEY.match(key)
        if not m:
            continue
        try:
            probes[int(m.group(1))] = float(value)
        except (TypeError, ValueError):
            raise ReportError(path, "context." + key, "not a number: %r" % (value,)) from None
    return probes


def _parse_json_string(path, context, key):
    """variant_isa and skipped_variants are JSON objects serialized into strings."""
    text = context.get(key)
    if text is None or text == "":
        return {}
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        raise ReportError(path, "context." + key, "not a JSON object in a string: %r" % (text,)) from None
    if not isinstance(value, dict):
        raise ReportError(path, "context." + key, "expected a JSON object, got %r" % (text,))
    return {str(k): str(v) for k, v in value.items()}


def report_files(paths):
    """Expand arguments to report files: files as given, directories searched for *.json."""
    files = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, names in os.walk(p):
                dirs.sort()
                files.extend(os.path.join(root, n) for n in sorted(names) if n.endswith(".json"))
        else:
            files.append(p)
    return files


def merge_reports(reports):
    """Merge files of the same hardware id and version-commit into one report, as bench --report
    does for several invocations at one commit: later files (by date) replace rows of the same
    name. Returns {hardware_id: [Report, ...] ordered by date}."""
    merged = {}
    for r in sorted(reports, key=Report.sort_key):
        key = (r.hardware_id, r.label)
        into = merged.get(key)
        if into is None:
            merged[key] = r
            continue
        into.paths.extend(r.paths)
        into.runs.update(r.runs)
        into.probes.update(r.probes)
        into.variant_isa.update(r.variant_isa)
        into.errored.extend(n for n in r.errored if n not in into.errored)
        into.date, into.context = r.date, r.context
    by_hw = {}
    for r in merged.values():
        by_hw.setdefault(r.hardware_id, []).append(r)
    return {hw: sorted(rs, key=Report.sort_key) for hw, rs in sorted(by_hw.items())}
