#!/usr/bin/env python3
"""Regression gate: compare two `bench --report` files row by row.

usage: compare.py OLD.json NEW.json [--threshold 0.05] [--alpha 0.05] [--any-hardware]

For every benchmark in both files (matched by run name, repetitions and aggregates folded together)
prints the median real_time of each side, the ratio new/old, the median weight_GBps of each side, the
number of repetitions, the two-sided Mann-Whitney U p-value on the per-repetition real_time values
(the test Google Benchmark's tools/compare.py uses) and a verdict:

  slower   new/old > 1 + threshold and p < alpha
  faster   new/old < 1 - threshold and p < alpha
  same     otherwise
  noise?   the U test cannot decide: with n1 and n2 repetitions the smallest two-sided p the exact
           U test can give is 2 / C(n1 + n2, n1) (3 vs 3: 0.1); when that is >= alpha, or a side
           has fewer than 2 repetitions, the row falls back to the ratio alone with twice the
           threshold: slower when new/old > 1 + 2 * threshold, faster when < 1 - 2 * threshold,
           else noise?.

Rows in one file only are listed as removed (only in OLD) or added (only in NEW); rows that
report error_occurred are listed apart.

Exit status: 1 if any row is slower, 0 otherwise; 2 when a file cannot be read (the message names
the file and field) or the two files come from different context.hardware_id (unless
--any-hardware). A warning goes to stderr when the read-bandwidth probe at a thread count differs
by more than 10% between the files: the machine's state changed, and times may move with it.
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report_io import ReportError, load_report  # noqa: E402

PROBE_DRIFT = 0.10  # warn above this relative change of the probe bandwidth


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old", metavar="OLD", help="baseline report (JSON)")
    ap.add_argument("new", metavar="NEW", help="candidate report (JSON)")
    ap.add_argument("--threshold", type=float, default=0.05,
                    help="relative time change that counts (default 0.05 = 5%%)")
    ap.add_argument("--alpha", type=float, default=0.05,
                    help="significance level of the U test (default 0.05)")
    ap.add_argument("--any-hardware", action="store_true",
                    help="compare files from different context.hardware_id")
    args = ap.parse_args(argv)
    if not args.threshold > 0:
        ap.error("--threshold must be above 0, got %g" % args.threshold)
    if not 0 < args.alpha < 1:
        ap.error("--alpha must lie in (0, 1), got %g" % args.alpha)
    return args


def min_two_sided_p(n1, n2):
    """Smallest two-sided p-value the exact Mann-Whitney U test can reach: the two most extreme
    orderings of n1 + n2 distinct values out of C(n1 + n2, n1) equally likely ones."""
    return 2.0 / math.comb(n1 + n2, n1)


def u_test_p(old, new):
    """Two-sided Mann-Whitney U p-value as Google Benchmark computes it; None below 2 samples a side
    (Google Benchmark's compare.py reports nothing there either)."""
    if len(old) < 2 or len(new) < 2:
        return None
    from scipy.stats import mannwhitneyu  # imported here: only rows with repetitions need it
    p = float(mannwhitneyu(old, new, alternative="two-sided").pvalue)
    return 1.0 if math.isnan(p) else p  # all-equal samples: no evidence of a difference


def verdict(ratio, p, n_old, n_new, threshold, alpha):
    """(verdict, rule) for one row; rule is "U" or "fallback" (see the module docstring)."""
    decidable = p is not None and min_two_sided_p(n_old, n_new) < alpha
    if not decidable:
        if ratio > 1 + 2 * threshold:
            return "slower", "fallback"
        if ratio < 1 - 2 * threshold:
            return "faster", "fallback"
        return "noise?", "fallback"
    if p < alpha and ratio > 1 + threshold:
        return "slower", "U"
    if p < alpha and ratio < 1 - threshold:
        return "faster", "U"
    return "same", "U"


def compare_runs(old_run, new_run, threshold, alpha):
    old_t, new_t = old_run.samples("real_time_ns"), new_run.samples("real_time_ns")
    old_med, new_med = old_run.median("real_time_ns"), new_run.median("real_time_ns")
    ratio = new_med / old_med if old_med else math.inf
    p = u_test_p(old_t, new_t)
    v, rule = verdict(ratio, p, len(old_t), len(new_t), threshold, alpha)
    return dict(name=old_run.run_name, old_time=old_med, new_time=new_med, ratio=ratio,
                old_gbps=old_run.median("weight_GBps"), new_gbps=new_run.median("weight_GBps"),
                n_old=len(old_t), n_new=len(new_t), p=p, verdict=v, rule=rule)


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return "%.4g %s" % (ns / scale, unit)
    return "%.4g ns" % ns


def fmt_gbps(value):
    # Two decimals hide a scalar reference's 0.05 GB/s differences; three significant digits do not.
    if value is None:
        return "-"
    return "%.2f" % value if value >= 1 else "%#.3g" % value


def print_table(rows, out):
    header = ("benchmark", "old time", "new time", "new/old", "old GB/s", "new GB/s", "reps",
              "p (U test)", "verdict")
    table = [header] + [(
        r["name"], fmt_time(r["old_time"]), fmt_time(r["new_time"]), "%.3f" % r["ratio"],
        fmt_gbps(r["old_gbps"]), fmt_gbps(r["new_gbps"]),
        "%d/%d" % (r["n_old"], r["n_new"]), "-" if r["p"] is None else "%.4f" % r["p"],
        r["verdict"] + (" (fallback)" if r["rule"] == "fallback" else "")) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for k, row in enumerate(table):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:-1], widths[1:-1])]
        print("  ".join(cells + [row[-1]]), file=out)
        if k == 0:
            print("-" * (sum(widths) + 2 * (len(widths) - 1)), file=out)


def print_rules(args, out):
    t, a = args.threshold, args.alpha
    print("\nverdict: slower when new/old > %.3g and p < %g, faster when new/old < %.3g and p < %g, "
          "same otherwise (two-sided Mann-Whitney U on per-repetition real_time)." % (1 + t, a, 1 - t, a),
          file=out)
    print("fallback: with n1, n2 repetitions the exact U test cannot give p below 2/C(n1+n2, n1) "
          "(3 vs 3: 0.1); when that is >= %g, or a side has < 2 repetitions, slower needs new/old > %.3g, "
          "faster < %.3g, else noise?." % (a, 1 + 2 * t, 1 - 2 * t), file=out)


def warn_probe_drift(old, new):
    for threads in sorted(set(old.probes) & set(new.probes)):
        a, b = old.probes[threads], new.probes[threads]
        if a > 0 and abs(b - a) / a > PROBE_DRIFT:
            print("compare.py: warning: probe_read_GBps_threads_%d is %.1f GB/s in %s and %.1f GB/s in %s "
                  "(%+.0f%%): the machine's state changed; times may have moved with it"
                  % (threads, a, old.path, b, new.path, 100 * (b - a) / a), file=sys.stderr)


def main(argv=None):
    args = parse_args(argv)
    try:
        old, new = load_report(args.old), load_report(args.new)
    except ReportError as e:
        print("compare.py: error: %s" % e, file=sys.stderr)
        return 2
    if old.hardware_id != new.hardware_id and not args.any_hardware:
        print("compare.py: error: context.hardware_id differs: %r in %s, %r in %s; times from different "
              "machines are not a regression test (--any-hardware compares anyway)"
              % (old.hardware_id, old.path, new.hardware_id, new.path), file=sys.stderr)
        return 2
    try:
        import scipy.stats  # noqa: F401  (checked before any row: a missing package is not a traceback)
    except ImportError:
        print("compare.py: error: needs scipy for the U test: python3 -m pip install scipy "
              "(ci/install-deps.sh installs it)", file=sys.stderr)
        return 2
    warn_probe_drift(old, new)

    print("old: %s  %s  %s  (%s)" % (old.path, old.label, old.date_text or "no date", old.hardware_id))
    print("new: %s  %s  %s  (%s)\n" % (new.path, new.label, new.date_text or "no date", new.hardware_id))
    # Only rows with a time on both sides are compared; failed rows are listed below.
    timed = lambda r: r.samples("real_time_ns")  # noqa: E731
    common = [n for n, r in old.runs.items() if timed(r) and n in new.runs and timed(new.runs[n])]
    rows = [compare_runs(old.runs[n], new.runs[n], args.threshold, args.alpha) for n in common]
    if rows:
        print_table(rows, sys.stdout)
    else:
        print("no benchmark is in both files")
    for title, names in (("removed (only in OLD)", [n for n, r in old.runs.items() if timed(r) and n not in new.runs]),
                         ("added (only in NEW)", [n for n, r in new.runs.items() if timed(r) and n not in old.runs]),
                         ("errored in OLD", old.errored), ("errored in NEW", new.errored)):
        if names:
            print("\n%s:" % title)
            for n in names:
                print("  " + n)
    print_rules(args, sys.stdout)
    counts = {v: sum(r["verdict"] == v for r in rows) for v in ("slower", "faster", "same", "noise?")}
    print("\n%d compared: %s" % (len(rows), ", ".join("%d %s" % (c, v) for v, c in counts.items())))
    if not rows:  # a gate that compared nothing must not pass (like verify's "nothing checked")
        print("compare.py: error: nothing compared: no benchmark has times in both files", file=sys.stderr)
        return 2
    return 1 if counts["slower"] else 0


if __name__ == "__main__":
    sys.exit(main())
