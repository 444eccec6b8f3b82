#!/usr/bin/env python3
"""Render `bench --report` files into PNG charts and one static HTML page (no JavaScript, no network).

usage: dashboard.py REPORT_OR_DIR [...] --out SITE_DIR [--clean]

Files of one hardware id and version-commit are one release (several bench invocations at one
commit). SITE_DIR/index.html shows, per hardware id, SITE_DIR/<hardware_id>/:

  trend_gbps_<format>_<op>_t<N>.png   GB/s of weights of each variant's best row, per release
                                      (ordered by context date), under the read-bandwidth probe
  trend_frac_<format>_<op>_t<N>.png   the same as a fraction of the measured read bandwidth
  peers_<format>_<op>_t<N>.png        latest release: our best variant against each peer plugin
                                      kernel, per shape, with the ratio
  heatmap.png                         latest release: best fraction of bandwidth per format and ISA
  scaling_<format>_<op>.png           latest release: GB/s against threads, with the probe
                                      (only where two or more thread counts ran)

Identical inputs give byte-identical PNGs and HTML (Agg backend, fixed sizes, no timestamps or
software tags in the PNGs), so the rendered site can be committed and checked by re-rendering.
"""
import argparse
import html
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report_io import UNKNOWN_HARDWARE, ReportError, load_report, merge_reports, report_files  # noqa: E402

try:
    import matplotlib
except ImportError:
    sys.exit("dashboard.py: error: needs matplotlib: python3 -m pip install matplotlib "
             "(ci/install-deps.sh installs it)")

matplotlib.use("Agg")  # files only; also the backend whose PNG bytes are reproducible
import matplotlib.pyplot as plt  # noqa: E402

DPI = 100
# The ISA ladder, lowest first: legends and heat-map columns read in this order.
ISA_ORDER = ("scalar", "avx2", "avx512", "avx512vnni", "avx512vbmi")
GBPS_LABEL = "GB/s of weights (1e9 bytes/s)"
FRAC_LABEL = "fraction of measured read bandwidth"
NOTE_BEST = "each point: the variant's fastest row over shapes (median of its repetitions)"
# The best row can hide a regression at another shape; say where every row is checked.
NOTE_TREND = "Each point: the variant's fastest row over shapes (median of its repetitions); a change at a " \
    "slower shape does not show here: reports/compare.py checks every row"


def configure_matplotlib():
    matplotlib.rcParams.update({
        "svg.hashsalt": "quantbench",  # no random ids should an SVG ever be written
        "figure.dpi": DPI, "savefig.dpi": DPI,
        "font.family": "DejaVu Sans",  # bundled with matplotlib: same glyphs on every machine
        "axes.grid": True, "grid.alpha": 0.3,
        "legend.fontsize": "small",
    })


def slug(text):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "_"


def isa_rank(isa):
    """Sort key: the ISA ladder first, other labels (plugins) after it, by name."""
    base = isa.split(" @ ")[0]
    plugin = " @ " in isa
    return (plugin, ISA_ORDER.index(base) if base in ISA_ORDER else len(ISA_ORDER), isa)


def shape_key(shape_tag):
    """Shapes in numeric order (1024x1024 before 11008x4096), tags after."""
    shape, _, tag = shape_tag.partition("/")
    dims = [int(d) if d.isdigit() else 0 for d in shape.split("x")]
    return (dims, tag)


# ---------------------------------------------------------------------------------------------
# Data: what each chart plots, from merged reports

def runs_of(report, fmt=None, op=None, threads=None):
    """Parsed runs with a weight_GBps value, optionally of one format / op / thread count."""
    for run in report.runs.values():
        k = run.key
        if k is None or run.median("weight_GBps") is None:
            continue
        if (fmt is None or k.fmt == fmt) and (op is None or k.op_batch == op) and \
                (threads is None or k.threads == threads):
            yield run


def best_per_variant(report, fmt, op, threads, field):
    """{variant: (best median of field over its rows, isa)} in one report."""
    best = {}
    for run in runs_of(report, fmt, op, threads):
        value = run.median(field)
        if value is not None and (run.key.variant not in best or value > best[run.key.variant][0]):
            best[run.key.variant] = (value, report.isa_of(run))
    return best


# One colour per ISA in every chart, so a variant keeps its colour from chart to chart; peers
# (plugin kernels) are orange and dashed or hatched. A second variant of the same ISA in one chart
# takes the next free colour.
ISA_COLORS = {"scalar": "#7f7f7f", "avx2": "#1f77b4", "avx512": "#2ca02c", "avx512vnni": "#9467bd",
              "avx512vbmi": "#d62728", "plugin": "#ff7f0e"}
SPARE_COLORS = ("#8c564b", "#e377c2", "#bcbd22", "#17becf", "#000080", "#808000", "#800000")


def variant_order(variants_isa):
    """Variants sorted by ISA (then peers), each with its colour and line style."""
    names = sorted(variants_isa, key=lambda v: (isa_rank(variants_isa[v]), v))
    taken, out = set(), []
    for v in names:
        isa = variants_isa[v]
        peer = "@ plugin" in isa
        want = ISA_COLORS.get("plugin" if peer else isa)
        free = [c for c in (want,) + SPARE_COLORS if c and c not in taken]
        color = free[0] if free else "#000000"
        taken.add(color)
        out.append((v, isa, color, "--" if peer else "-"))
    return out


def legend_name(variant, isa):
    return "%s (%s)" % (variant, isa)


# ---------------------------------------------------------------------------------------------
# Charts. Each returns a list of (file name, title, caption) for the page.

def add_legend(fig, title="variant (ISA)"):
    # Below the plot, not beside it: long plugin labels beside it squeezed the plot to half the width.
    # Two columns only while both fit the figure's width: a plugin's long labels ("... @
    # plugin:libqb_ggml_peer.so): value") in two columns ran past both edges and were cut off.
    labels = [label for ax in fig.axes for label in ax.get_legend_handles_labels()[1]]
    ncols = 2 if max((len(label) for label in labels), default=0) <= 55 else 1
    fig.legend(loc="outside lower center", ncols=ncols, title=title, title_fontsize="small")


def roof_style(threads=None):
    what = "read-bandwidth probe" + ("" if threads is None else ", %d thread%s" % (threads, "s" if threads > 1 else ""))
    return dict(color="black", linestyle=":", linewidth=2.2, label=what + " (roof)")


def save(fig, path):
    # metadata Software=None: no matplotlib version string, so PNG bytes depend on pixels only.
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)


def trend_charts(hw, reports, outdir):
    groups = sorted({(r.key.fmt, r.key.op_batch, r.key.threads) for rep in reports for r in runs_of(rep)})
    made = []
    for fmt, op, threads in groups:
        for field in ("weight_GBps", "bw_fraction"):
            name = "trend_%s_%s_%s_t%d.png" % ("gbps" if field == "weight_GBps" else "frac",
                                                slug(fmt), slug(op), threads)
            if plot_trend(hw, reports, fmt, op, threads, field, os.path.join(outdir, name)):
                what = "GB/s of weights" if field == "weight_GBps" else "fraction of read bandwidth"
                made.append((name, "%s %s, %d thread%s: %s per release" % (
                    fmt, op, threads, "s" if threads > 1 else "", what), NOTE_TREND + "."))
    return made


def plot_trend(hw, reports, fmt, op, threads, field, path):
    per_report = [best_per_variant(r, fmt, op, threads, field) for r in reports]
    isa = {}
    for best in per_report:  # later releases' ISA labels win
        isa.update({v: i for v, (_, i) in best.items()})
    if not isa:
        return False
    n = len(reports)
    fig, ax = plt.subplots(figsize=(min(24, max(10, 0.9 * n + 5)), 6.5), layout="constrained")
    xs = list(range(n))
    top = 0.0
    for variant, label, color, style in variant_order(isa):
        ys = [best[variant][0] if variant in best else math.nan for best in per_report]
        # The last value in the legend: a scalar reference at 0.05 GB/s lies on the axis and would
        # read as "did not run".
        last = next((y for y in reversed(ys) if not math.isnan(y)), None)
        ax.plot(xs, ys, style, marker="o", color=color, label="%s: %s" % (
            legend_name(variant, label), fmt_value(last, field)))
        top = max([top] + [y for y in ys if not math.isnan(y)])
    if field == "weight_GBps":
        roof = [r.probe(threads) for r in reports]
        roof = [math.nan if p is None else p for p in roof]
        if not all(math.isnan(p) for p in roof):
            # Markers: a release without neighbours would otherwise draw no roof at all.
            roof_kw = roof_style(threads)
            roof_kw["label"] += ": %.1f GB/s" % next(p for p in reversed(roof) if not math.isnan(p))
            ax.plot(xs, roof, marker="s", **roof_kw)
            top = max([top] + [p for p in roof if not math.isnan(p)])
        ax.set_ylabel(GBPS_LABEL)
        ax.set_ylim(0, top * 1.12 or 1)
    else:
        ax.axhline(1.0, color="black", linestyle=":", linewidth=2, label="probe bandwidth (= 1)")
        ax.set_ylabel(FRAC_LABEL)
        ax.set_ylim(0, max(1.08, top * 1.05))
    ax.set_xticks(xs)
    # Beyond about 24 releases the labels would overlap even rotated: label every step-th one.
    step = -(-n // 24)
    ax.set_xticklabels(["%s\n%s" % (r.label, r.date_text[:10] or "no date") if i % step == 0 or i == n - 1 else ""
                        for i, r in enumerate(reports)],
                       rotation=25 if n > 4 else 0, ha="right" if n > 4 else "center", fontsize="small")
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_xlabel("release (version-commit, report date)")
    add_legend(fig, "variant (ISA): its value in the last release it ran in")
    ax.set_title("%s: %s %s, %d thread%s\n%s" % (hw, fmt, op, threads, "s" if threads > 1 else "", NOTE_BEST),
                 fontsize="medium")
    save(fig, path)
    return True


def peer_charts(hw, report, outdir):
    groups = sorted({(r.key.fmt, r.key.op_batch, r.key.threads) for r in runs_of(report) if r.is_peer})
    made = []
    for fmt, op, threads in groups:
        name = "peers_%s_%s_t%d.png" % (slug(fmt), slug(op), threads)
        plot_peers(hw, report, fmt, op, threads, os.path.join(outdir, name))
        made.append((name, "%s %s, %d thread%s: ours against peers (%s)" % (
            fmt, op, threads, "s" if threads > 1 else "", report.label),
            "Per shape, our fastest variant (named in the legend) beside each peer plugin kernel; "
            "over each pair, our GB/s divided by the peer's (above 1: ours is faster)."))
    return made


def plot_peers(hw, report, fmt, op, threads, path):
    runs = list(runs_of(report, fmt, op, threads))
    shapes = sorted({r.key.shape_tag for r in runs}, key=shape_key)
    peers = sorted({r.key.variant for r in runs if r.is_peer})
    ours_best = {}  # shape -> run of our fastest variant there
    for r in runs:
        if not r.is_peer:
            cur = ours_best.get(r.key.shape_tag)
            if cur is None or r.median("weight_GBps") > cur.median("weight_GBps"):
                ours_best[r.key.shape_tag] = r
    by = {(r.key.variant, r.key.shape_tag): r for r in runs}
    isa = {r.key.variant: report.isa_of(r) for r in runs if r.is_peer}
    isa.update({r.key.variant: report.isa_of(r) for r in ours_best.values()})
    style = {v: c for v, _, c, _ in variant_order(isa)}

    fig, ax = plt.subplots(figsize=(min(24, max(10, 1.8 * len(shapes) + 4)), 6.5), layout="constrained")
    width = 0.8 / (1 + len(peers))
    top, labelled = 0.0, set()
    for k, shape in enumerate(shapes):
        x0 = k - 0.4 + width / 2
        ours = ours_best.get(shape)
        ours_gbps = ours.median("weight_GBps") if ours else None
        if ours:
            v = ours.key.variant
            ax.bar(x0, ours_gbps, width, color=style[v], label=None if v in labelled else
                   "ours: " + legend_name(v, isa[v]))
            labelled.add(v)
            ax.text(x0, ours_gbps, "%.1f" % ours_gbps, ha="center", va="bottom", fontsize="small")
            top = max(top, ours_gbps)
        ratios = []
        for j, peer in enumerate(peers):
            run = by.get((peer, shape))
            if run is None:
                continue
            g = run.median("weight_GBps")
            x = x0 + (j + 1) * width
            ax.bar(x, g, width, color=style[peer], hatch="//", edgecolor="white",
                   label=None if peer in labelled else "peer: " + legend_name(peer, isa[peer]))
            labelled.add(peer)
            ax.text(x, g, "%.1f" % g, ha="center", va="bottom", fontsize="small")
            top = max(top, g)
            if ours_gbps and g > 0:
                ratios.append((peer, ours_gbps / g))
        group_top = max([ours_gbps or 0] + [by[(p, shape)].median("weight_GBps") for p in peers if (p, shape) in by])
        # The ratio sits above the whole group, apart from the GB/s numbers on the bars.
        text = "\n".join(("ours/peer = %.2fx" % r) if len(peers) == 1 else ("ours/%s = %.2fx" % (p, r))
                         for p, r in ratios)
        if text:
            # Above the roof line too, on white: drawn across the dotted probe it was misread.
            ax.annotate(text, (k, max(group_top, report.probe(threads) or 0)), xytext=(0, 10),
                        textcoords="offset points", ha="center", va="bottom", fontsize="medium",
                        fontweight="bold", bbox=dict(facecolor="white", edgecolor="none", alpha=0.9))
    probe = report.probe(threads)
    if probe:
        ax.axhline(probe, **roof_style(threads))
        top = max(top, probe)
    ax.set_ylim(0, top * 1.5 or 1)  # headroom for the ratio lines over the bars and the roof
    ax.set_xticks(range(len(shapes)))
    ax.set_xticklabels(shapes)
    ax.set_xlim(-0.6, len(shapes) - 0.4)
    ax.set_xlabel("weight shape (rows x cols = out x in)")
    ax.set_ylabel(GBPS_LABEL)
    ax.set_title("%s: %s %s, %d thread%s, release %s\nours (fastest variant per shape) vs peer plugin kernels"
                 % (hw, fmt, op, threads, "s" if threads > 1 else "", report.label), fontsize="medium")
    add_legend(fig)
    save(fig, path)


def fmt_value(v, field):
    """A chart's value in a legend: last release's GB/s or fraction."""
    if field == "weight_GBps":
        return ("%.1f GB/s" if v >= 1 else "%.2g GB/s") % v
    return fmt_fraction(v)


def fmt_fraction(v):
    # A scalar reference at 0.0012 printed as "0.00" reads as "did not run"; keep two digits.
    return "%.2f" % v if v >= 0.1 else "%.2g" % v


def heatmap_chart(hw, report, outdir):
    cells = {}  # (format op, isa) -> best bw_fraction
    for run in runs_of(report):
        frac = run.median("bw_fraction")
        if frac is None:
            continue
        key = ("%s %s" % (run.key.fmt, run.key.op_batch), report.isa_of(run))
        cells[key] = max(cells.get(key, frac), frac)
    if not cells:
        return []
    rows = sorted({r for r, _ in cells})
    cols = sorted({c for _, c in cells}, key=isa_rank)
    fig, ax = plt.subplots(figsize=(max(7, 1.5 * len(cols) + 3.5), max(4.5, 0.7 * len(rows) + 3)),
                           layout="constrained")
    import numpy as np
    grid = np.ma.masked_invalid([[cells.get((r, c), math.nan) for c in cols] for r in rows])
    cmap = plt.get_cmap("viridis").with_extremes(bad="#dddddd")
    im = ax.imshow(grid, cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            v = cells.get((r, c))
            # viridis is dark below about 0.5: white text there, black above.
            ax.text(j, i, "n/a" if v is None else fmt_fraction(v), ha="center", va="center", fontsize="small",
                    color="#555555" if v is None else ("white" if v < 0.5 else "black"))
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels([c.replace(" @ ", "\n@ ") for c in cols], fontsize="small")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows)
    ax.grid(False)
    ax.set_xlabel("ISA of the variant (label)")
    ax.set_ylabel("format, op")
    fig.colorbar(im, ax=ax, label="fraction of read bandwidth")
    ax.set_title("%s, release %s: best fraction of read bandwidth\n(over shapes and thread counts; "
                 "n/a = no variant of that ISA ran)" % (hw, report.label), fontsize="medium")
    save(fig, os.path.join(outdir, "heatmap.png"))
    return [("heatmap.png", "Formats x ISA: best fraction of read bandwidth (%s)" % report.label,
             "Per format/op and ISA label, the highest bw_fraction of any row (median of repetitions) "
             "at any shape and thread count; n/a where no variant of that ISA ran.")]


def scaling_charts(hw, report, outdir):
    made = []
    for fmt, op in sorted({(r.key.fmt, r.key.op_batch) for r in runs_of(report)}):
        threads = sorted({r.key.threads for r in runs_of(report, fmt, op)})
        if len(threads) < 2:
            continue  # one thread count is not a scaling curve
        name = "scaling_%s_%s.png" % (slug(fmt), slug(op))
        plot_scaling(hw, report, fmt, op, threads, os.path.join(outdir, name))
        made.append((name, "%s %s: thread scaling (%s)" % (fmt, op, report.label),
                     "GB/s of each variant's fastest row at each thread count, and the read-bandwidth "
                     "probe at that thread count."))
    return made


def plot_scaling(hw, report, fmt, op, threads, path):
    per_t = {t: best_per_variant(report, fmt, op, t, "weight_GBps") for t in threads}
    isa = {}
    for best in per_t.values():
        isa.update({v: i for v, (_, i) in best.items()})
    fig, ax = plt.subplots(figsize=(10, 6.5), layout="constrained")
    top = 0.0
    for variant, label, color, style in variant_order(isa):
        ys = [per_t[t][variant][0] if variant in per_t[t] else math.nan for t in threads]
        ax.plot(threads, ys, style, marker="o", color=color, label=legend_name(variant, label))
        top = max([top] + [y for y in ys if not math.isnan(y)])
    roof = [report.probe(t) for t in threads]
    if any(p is not None for p in roof):
        roof = [math.nan if p is None else p for p in roof]
        ax.plot(threads, roof, marker="s", **roof_style())
        top = max([top] + [p for p in roof if not math.isnan(p)])
    ax.set_xticks(threads)
    ax.set_xlim(min(threads) - 0.5, max(threads) + 0.5)
    ax.set_ylim(0, top * 1.12 or 1)
    ax.set_xlabel("threads")
    ax.set_ylabel(GBPS_LABEL)
    ax.set_title("%s: %s %s, release %s: thread scaling\n%s" % (hw, fmt, op, report.label, NOTE_BEST),
                 fontsize="medium")
    add_legend(fig)
    save(fig, path)


# ---------------------------------------------------------------------------------------------
# Page

CSS = """body{font-family:sans-serif;max-width:1250px;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:.2em .5em;
text-align:left;font-size:90%;vertical-align:top}figure{margin:1em 0 2em}img{max-width:100%;
border:1px solid #eee}figcaption{font-size:90%;color:#444}code{font-size:95%}"""


def short_path(path):
    """Parent folder and file name: the same on every checkout, unlike an absolute path."""
    return os.path.join(os.path.basename(os.path.dirname(path)), os.path.basename(path))


def report_table(reports):
    e = html.escape
    head = ("release", "date", "files", "CPU", "compiler, flags", "build", "ISA ceiling", "probe GB/s")
    out = ["<table><tr>%s</tr>" % "".join("<th>%s</th>" % h for h in head)]
    for r in reports:
        c = r.context
        threads = sorted({run.key.threads for run in r.runs.values() if run.key})
        probes = ", ".join("%d thr: %.1f%s" % (t, r.probe(t), "" if t in r.probes else " (median of rows)")
                           for t in threads if r.probe(t) is not None) or "-"
        build = "%s (Google Benchmark library: %s)" % (c.get("build_type", "?"), c.get("library_build_type", "?"))
        cells = (r.label, r.date_text or "-", "<br>".join(e(short_path(p)) for p in r.paths),
                 c.get("cpu_model", "?"), "%s <code>%s</code>" % (e(str(c.get("compiler", "?"))),
                                                                 e(str(c.get("cxx_flags", "")).strip())),
                 build, c.get("isa_ceiling", "?"), probes)
        out.append("<tr>%s</tr>" % "".join(
            "<td>%s</td>" % (v if i in (2, 4) else e(str(v))) for i, v in enumerate(cells)))
    out.append("</table>")
    return "\n".join(out)


def write_html(out, sections, nfiles):
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>quantbench benchmark dashboard</title><style>%s</style></head><body>" % CSS,
             "<h1>quantbench benchmark dashboard</h1>",
             "<p>Rendered by <code>reports/dashboard.py</code> from %d report file%s. GB/s are bytes of stored "
             "weights per second (1e9); the roof is bench's read-bandwidth probe at the same thread count; "
             "a fraction of bandwidth is GB/s over the probe measured around that row.</p>"
             % (nfiles, "" if nfiles == 1 else "s")]
    parts.append("<ul>%s</ul>" % "".join('<li><a href="#%s">%s</a> (%d release%s)</li>' % (
        e(slug(hw)), e(hw), len(reports), "" if len(reports) == 1 else "s") for hw, reports, _ in sections))
    for hw, reports, groups in sections:
        parts.append('<h2 id="%s">%s</h2>' % (e(slug(hw)), e(hw)))
        if hw == UNKNOWN_HARDWARE:
            parts.append("<p>Reports without <code>context.hardware_id</code> (older bench builds).</p>")
        parts.append(report_table(reports))
        for heading, figs in groups:
            if not figs:
                continue
            parts.append("<h3>%s</h3>" % e(heading))
            for name, title, caption in figs:
                src = "%s/%s" % (slug(hw), name)
                parts.append('<figure><img src="%s" alt="%s"><figcaption><b>%s</b>. %s</figcaption></figure>'
                             % (e(src), e(title), e(title), e(caption)))
    parts.append("</body></html>\n")
    with open(os.path.join(out, "index.html"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(parts))


def clean(out):
    """Remove what an earlier render left (PNGs, index.html) so a committed site has no stale charts."""
    for root, _, names in os.walk(out, topdown=False):
        for n in names:
            if n.endswith(".png") or (root == out and n == "index.html"):
                os.remove(os.path.join(root, n))
        if root != out and not os.listdir(root):
            os.rmdir(root)  # a hardware id no longer among the inputs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 2)[2],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+", metavar="REPORT_OR_DIR",
                    help="report files, or folders searched for *.json")
    ap.add_argument("--out", required=True, help="site folder to write (index.html and one folder per hardware id)")
    ap.add_argument("--clean", action="store_true", help="first delete PNGs and index.html under --out")
    args = ap.parse_args(argv)

    files = report_files(args.reports)
    if not files:
        print("dashboard.py: error: no *.json report files in %s" % " ".join(args.reports), file=sys.stderr)
        return 2
    try:
        by_hw = merge_reports([load_report(f) for f in files])
    except ReportError as err:
        print("dashboard.py: error: %s" % err, file=sys.stderr)
        return 2

    configure_matplotlib()
    os.makedirs(args.out, exist_ok=True)
    if args.clean:
        clean(args.out)
    sections = []
    for hw, reports in by_hw.items():
        outdir = os.path.join(args.out, slug(hw))
        os.makedirs(outdir, exist_ok=True)
        latest = reports[-1]
        groups = [("Releases: GB/s of weights and fraction of bandwidth", trend_charts(hw, reports, outdir)),
                  ("Ours vs peers (latest release)", peer_charts(hw, latest, outdir)),
                  ("Formats x ISA (latest release)", heatmap_chart(hw, latest, outdir)),
                  ("Thread scaling (latest release)", scaling_charts(hw, latest, outdir))]
        sections.append((hw, reports, groups))
        for _, figs in groups:
            for name, _, _ in figs:
                print(os.path.join(outdir, name))
    write_html(args.out, sections, len(files))
    print(os.path.join(args.out, "index.html"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
