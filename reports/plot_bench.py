#!/usr/bin/env python3
"""Plot `bench --json` files: weight GB/s per variant and shape against the probe bandwidth,
and the fraction of that bandwidth reached. One PNG per (format, op, threads) found.

usage: plot_bench.py RUN.json [RUN.json ...] [-o OUTDIR]
"""
import argparse
import collections
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    with open(path) as f:
        doc = json.load(f)
    ctx = doc.get("context", {})
    rows = []
    for b in doc.get("benchmarks", []):
        if b.get("run_type") != "iteration" or b.get("error_occurred") or "weight_GBps" not in b:
            continue
        # <format>/<op>/<variant>/<R>x<C>[/<tag>][/m:<M>]/threads:<N>[/manual_time]; the tag (a
        # family's parameters, or a model's layer kinds) is part of what was measured.
        parts = b["run_name"].split("/")
        fmt, op, variant, shape = parts[:4]
        rest = [p for p in parts[4:] if p != "manual_time"]
        threads = next(int(p.split(":")[1]) for p in rest if p.startswith("threads:"))
        batch = next((int(p.split(":")[1]) for p in rest if p.startswith("m:")), 1)
        tag = "/".join(p for p in rest if not p.startswith(("threads:", "m:")))
        rows.append(dict(fmt=fmt, op=op if batch == 1 else "%s m=%d" % (op, batch), variant=variant,
                         shape=shape + ("/" + tag if tag else ""), threads=threads,
                         gbps=b["weight_GBps"], frac=b.get("bw_fraction")))
    return ctx, rows


def run_label(ctx, path, taken):
    label = "%s %s" % (ctx.get("git_commit") or "?", ctx.get("cpu_model") or ctx.get("host_name", ""))
    return label if label not in taken else "%s [%s]" % (label, os.path.basename(path))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", nargs="+")
    ap.add_argument("-o", "--outdir", default=".")
    args = ap.parse_args()

    runs = []  # (label, ctx, rows)
    for path in args.json:
        ctx, rows = load(path)
        runs.append((run_label(ctx, path, {r[0] for r in runs}), ctx, rows))

    groups = collections.OrderedDict()
    for label, ctx, rows in runs:
        for r in rows:
            groups.setdefault((r["fmt"], r["op"], r["threads"]), []).append((label, ctx, r))
    if not groups:
        sys.exit("no benchmark rows with weight_GBps in " + " ".join(args.json))

    os.makedirs(args.outdir, exist_ok=True)
    for (fmt, op, threads), items in groups.items():
        shapes = list(dict.fromkeys(r["shape"] for _, _, r in items))
        series = list(dict.fromkeys((label, r["variant"]) for label, _, r in items))
        fig, (ax_gbps, ax_frac) = plt.subplots(2, 1, figsize=(max(8, 2.2 * len(shapes)), 8), sharex=True)
        width = 0.8 / len(series)
        for i, (label, variant) in enumerate(series):
            by_shape = {r["shape"]: r for l, _, r in items if l == label and r["variant"] == variant}
            xs = [k + (i - (len(series) - 1) / 2) * width for k, s in enumerate(shapes) if s in by_shape]
            present = [s for s in shapes if s in by_shape]
            name = variant if len(runs) == 1 else "%s | %s" % (variant, label)
            ax_gbps.bar(xs, [by_shape[s]["gbps"] for s in present], width, label=name)
            ax_frac.bar(xs, [by_shape[s]["frac"] or 0 for s in present], width, label=name)
        for k, (label, ctx, _) in enumerate(runs):
            probe = ctx.get("probe_read_GBps_threads_%d" % threads)
            if probe:
                ax_gbps.axhline(float(probe), color="C%d" % (k % 10), linestyle="--", linewidth=1,
                                label="read bandwidth probe" + ("" if len(runs) == 1 else " | " + label))
        ax_frac.axhline(1.0, color="black", linestyle="--", linewidth=1)
        ax_gbps.set_ylabel("weight GB/s (1e9 B/s)")
        ax_frac.set_ylabel("fraction of probe bandwidth")
        ax_frac.set_xticks(range(len(shapes)))
        ax_frac.set_xticklabels(shapes)
        ax_frac.set_xlabel("weight shape (rows x cols = out x in)")
        ax_gbps.legend(fontsize="small")
        cpus = sorted({c.get("cpu_model", "?") for _, c, _ in runs})
        commits = sorted({c.get("git_commit", "?") for _, c, _ in runs})
        fig.suptitle("%s %s, %d threads\n%s; commit %s" % (fmt, op, threads, ", ".join(cpus), ", ".join(commits)))
        fig.tight_layout()
        out = os.path.join(args.outdir, "bench_%s_%s_t%d.png" % (fmt, op.replace(" m=", "_m"), threads))
        fig.savefig(out, dpi=110)
        plt.close(fig)
        print(out)


if __name__ == "__main__":
    main()
