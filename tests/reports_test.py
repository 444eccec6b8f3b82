#!/usr/bin/env python3
"""Tests of reports/compare.py, reports/dashboard.py and reports/report_io.py on the synthetic
reports in tests/data/reports (written by its make_fixtures.py).

run: python3 tests/reports_test.py   (exit 0 when every test passes)
"""
import contextlib
import filecmp
import glob
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORTS = os.path.join(ROOT, "reports")
DATA = os.path.join(ROOT, "tests", "data", "reports")
sys.path.insert(0, REPORTS)

import compare  # noqa: E402
import dashboard  # noqa: E402
import report_io  # noqa: E402

AMD = os.path.join(DATA, "amd-zen5-2c-avx512")
INTEL = os.path.join(DATA, "intel-icx-4c-avx2")
AMD_R2 = os.path.join(AMD, "0.1.1-8c41d07.json")
AMD_R3 = os.path.join(AMD, "0.2.0-496ac92.json")
INTEL_R2 = os.path.join(INTEL, "0.1.1-8c41d07.json")
OLD = os.path.join(DATA, "old", "0.0.9-1234567.json")
PINNED_MATPLOTLIB = re.search(r"^mpl=(\S+)$", open(os.path.join(ROOT, "ci", "install-deps.sh")).read(), re.M).group(1)
BASE = os.path.join(DATA, "compare", "base.json")
SLOW30 = os.path.join(DATA, "compare", "slow30.json")
AVX2_T1 = "q4_0/gemv/q4_0_gemv_avx2/4096x4096/threads:1/manual_time"


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_json(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)


def run_compare(*args):
    """compare.main in this process (fast): (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = compare.main(list(args))
        except SystemExit as e:  # argparse
            code = e.code
    return code, out.getvalue(), err.getvalue()


def verdict_of(stdout, name):
    for line in stdout.splitlines():
        if line.startswith(name + " "):
            return line.split("  ")[-1].strip()
    raise AssertionError("no row %s in:\n%s" % (name, stdout))


def find_gbench_compare():
    """Google Benchmark's tools/compare.py: Debian's libbenchmark-tools, else anywhere it is installed."""
    for path in ("/usr/share/benchmark/compare.py", "/usr/local/share/benchmark/compare.py"):
        if os.path.isfile(path):
            return path
    hits = glob.glob("/usr/**/benchmark/**/compare.py", recursive=True)
    return hits[0] if hits else None


class LoaderTest(unittest.TestCase):
    def test_current_file(self):
        r = report_io.load_report(AMD_R3)
        self.assertEqual(r.hardware_id, "amd-zen5-2c-avx512")
        self.assertEqual(r.label, "0.2.0-496ac92e07b5")
        self.assertEqual(r.probes, {1: 40.0, 2: 62.0})
        run = r.runs[AVX2_T1]
        self.assertEqual(len(run.reps), 3)
        self.assertEqual(sorted(run.aggregates), ["cv", "mean", "median", "stddev"])
        self.assertEqual((run.key.fmt, run.key.op, run.key.variant, run.key.shape, run.key.threads),
                         ("q4_0", "gemv", "q4_0_gemv_avx2", "4096x4096", 1))
        peer = r.runs["q4_0/gemv/ggml_q4_0_gemv_mul_mat/4096x4096/threads:1/manual_time"]
        self.assertTrue(peer.is_peer)
        exl3 = r.runs["exl3/gemv/exl3_gemv_avx512vbmi/1024x1024/K4-mcg/threads:2/manual_time"]
        self.assertEqual((exl3.key.tag, exl3.key.threads), ("K4-mcg", 2))

    def test_older_file(self):
        # No hardware_id, version, run_name, run_type, repetition_index, aggregate_name, probe keys.
        r = report_io.load_report(OLD)
        self.assertEqual(r.hardware_id, "unknown")
        self.assertEqual(r.label, "0.0.9-1234567")  # from the file name
        run = r.runs[AVX2_T1]
        self.assertEqual([x["repetition_index"] for x in run.reps], [0, 1])
        self.assertEqual(sorted(run.aggregates), ["cv", "mean", "median", "stddev"])
        self.assertAlmostEqual(r.probe(1), 39.0, delta=1.0)  # median of the rows' probe_GBps

    def test_tag_with_slash_and_batch(self):
        key = report_io.parse_run_name(
            "exl2/gemv/exl2_gemv_avx2/8192x8192/0.25:4b/0.75:2b_32g_s4/m:4/threads:2/manual_time")
        self.assertEqual((key.tag, key.batch, key.threads, key.op_batch),
                         ("0.25:4b/0.75:2b_32g_s4", 4, 2, "gemv m=4"))

    def test_merge_of_one_commit(self):
        # Two invocations at one commit (formats split over files) become one release.
        with tempfile.TemporaryDirectory() as tmp:
            doc = read_json(AMD_R3)
            q4 = dict(doc, benchmarks=[b for b in doc["benchmarks"] if b["name"].startswith("q4_0/")])
            ex = dict(doc, benchmarks=[b for b in doc["benchmarks"] if b["name"].startswith("exl3/")])
            for name, d in (("a.json", q4), ("b.json", ex)):
                write_json(os.path.join(tmp, name), d)
            merged = report_io.merge_reports([report_io.load_report(f) for f in report_io.report_files([tmp])])
            self.assertEqual(list(merged), ["amd-zen5-2c-avx512"])
            self.assertEqual(len(merged["amd-zen5-2c-avx512"]), 1)
            self.assertEqual(len(merged["amd-zen5-2c-avx512"][0].runs), len(report_io.load_report(AMD_R3).runs))


class CompareTest(unittest.TestCase):
    def test_planted_slowdown_with_9_repetitions(self):
        code, out, _ = run_compare(BASE, SLOW30)
        self.assertEqual(code, 1, out)
        self.assertEqual(verdict_of(out, AVX2_T1), "slower")
        self.assertEqual(verdict_of(out, AVX2_T1.replace("avx2", "avx512vnni")), "same")
        self.assertIn("9/9", out)

    def test_identical_data(self):
        code, out, err = run_compare(BASE, BASE)
        self.assertEqual(code, 0, out)
        self.assertNotIn("slower", [verdict_of(out, AVX2_T1)])
        self.assertEqual(err, "")

    def test_too_few_repetitions_fallback(self):
        # 3 vs 3: the exact U test cannot go below p = 2/C(6,3) = 0.1, so the ratio decides, at 2x threshold.
        self.assertAlmostEqual(compare.min_two_sided_p(3, 3), 0.1)
        self.assertAlmostEqual(compare.min_two_sided_p(4, 4), 2 / 70)
        code, out, _ = run_compare(AMD_R2, AMD_R3)
        self.assertEqual(code, 1)
        self.assertEqual(verdict_of(out, AVX2_T1), "slower (fallback)")  # planted 30%
        self.assertEqual(verdict_of(out, "q4_0/gemv/q4_0_gemv_avx2/11008x4096/threads:2/manual_time"),
                         "noise? (fallback)")  # planted 6.5%: over 1.05, under 1.10
        self.assertEqual(verdict_of(out, "q4_0/gemv/q4_0_gemv_avx512vnni/4096x4096/threads:1/manual_time"),
                         "faster (fallback)")
        self.assertIn("2/C(n1+n2, n1)", out)
        # A wider alpha lets 3 vs 3 use the U test again.
        self.assertEqual(compare.verdict(1.3, 0.1, 3, 3, 0.05, 0.2), ("slower", "U"))
        self.assertEqual(compare.verdict(1.07, 0.1, 3, 3, 0.05, 0.05), ("noise?", "fallback"))
        self.assertEqual(compare.verdict(1.07, None, 1, 1, 0.05, 0.05), ("noise?", "fallback"))

    def test_differing_hardware(self):
        code, _, err = run_compare(AMD_R2, INTEL_R2)
        self.assertEqual(code, 2)
        self.assertIn("context.hardware_id", err)
        code, out, _ = run_compare("--any-hardware", AMD_R2, INTEL_R2)
        self.assertIn(code, (0, 1))
        self.assertIn("removed (only in OLD)", out)

    def test_older_file_compares(self):
        code, out, _ = run_compare("--any-hardware", OLD, AMD_R2)
        self.assertIn(code, (0, 1))
        self.assertIn("2/3", out)  # 2 repetitions in the old file, 3 in the new

    def test_added_removed_and_probe_drift(self):
        with tempfile.TemporaryDirectory() as tmp:
            doc = read_json(BASE)
            doc["context"]["probe_read_GBps_threads_1"] = "30.0"  # from 40: -25%
            doc["benchmarks"] = [b for b in doc["benchmarks"] if "avx512vnni" not in b["name"]]
            path = os.path.join(tmp, "new.json")
            write_json(path, doc)
            code, out, err = run_compare(BASE, path)
        self.assertEqual(code, 0)
        self.assertIn("probe_read_GBps_threads_1", err)
        self.assertIn("removed (only in OLD):\n  " + AVX2_T1.replace("avx2", "avx512vnni"), out)

    def test_nothing_compared_fails(self):
        # A gate whose baseline shares no row with the run must not pass silently.
        with tempfile.TemporaryDirectory() as tmp:
            doc = read_json(BASE)
            for b in doc["benchmarks"]:
                for key in ("name", "run_name"):
                    if key in b:
                        b[key] = "other_" + b[key]
            path = os.path.join(tmp, "new.json")
            write_json(path, doc)
            code, _, err = run_compare(BASE, path)
        self.assertEqual(code, 2)
        self.assertIn("nothing compared", err)

    def test_bad_input_names_file_and_field(self):
        with tempfile.TemporaryDirectory() as tmp:
            cases = {"notjson.json": ("{", None),
                     "notime.json": ({"context": {}, "benchmarks": [{"name": "a/b/c/1x1/threads:1"}]},
                                     "benchmarks[0].real_time"),
                     "probe.json": ({"context": {"probe_read_GBps_threads_1": "fast"}, "benchmarks": []},
                                    "context.probe_read_GBps_threads_1"),
                     "nolist.json": ({"context": {}}, "benchmarks")}
            for name, (content, field) in cases.items():
                path = os.path.join(tmp, name)
                with open(path, "w") as f:
                    f.write(content if isinstance(content, str) else json.dumps(content))
                # A real process: the message, and no traceback, is what a user sees.
                p = subprocess.run([sys.executable, os.path.join(REPORTS, "compare.py"), path, BASE],
                                   capture_output=True, text=True)
                self.assertEqual(p.returncode, 2, name)
                self.assertIn(path, p.stderr)
                if field:
                    self.assertIn(field, p.stderr)
                self.assertNotIn("Traceback", p.stderr)
            code, _, err = run_compare(os.path.join(tmp, "missing.json"), BASE)
            self.assertEqual(code, 2)
            self.assertIn("missing.json", err)

    def test_google_benchmark_compare_reads_reports(self):
        gb = find_gbench_compare()
        if gb is None:
            self.skipTest("Google Benchmark's tools/compare.py not installed (Debian: libbenchmark-tools)")
        p = subprocess.run([sys.executable, gb, "--no-color", "benchmarks", BASE, SLOW30],
                           capture_output=True, text=True, cwd=os.path.dirname(gb))
        self.assertEqual(p.returncode, 0, p.stderr)
        # Its U test p-values are ours.
        gb_p = {m.group(1): float(m.group(2)) for m in
                re.finditer(r"^(\S+)_pvalue\s+(\S+)", p.stdout, re.M)}
        _, out, _ = run_compare(BASE, SLOW30)
        self.assertIn(AVX2_T1, gb_p)
        self.assertIn("%.4f" % gb_p[AVX2_T1], [c for c in out.splitlines() if c.startswith(AVX2_T1)][0])
        p = subprocess.run([sys.executable, gb, "--no-color", "benchmarks", OLD, AMD_R2],
                           capture_output=True, text=True, cwd=os.path.dirname(gb))
        self.assertEqual(p.returncode, 0, p.stderr)


class DashboardTest(unittest.TestCase):
    EXPECTED = {
        "amd-zen5-2c-avx512": ["trend_%s_%s_gemv_t%d.png" % (k, f, t) for k in ("gbps", "frac")
                               for f in ("q4_0", "exl3") for t in (1, 2)]
        + ["peers_q4_0_gemv_t1.png", "peers_q4_0_gemv_t2.png", "heatmap.png",
           "scaling_q4_0_gemv.png", "scaling_exl3_gemv.png"],
        "intel-icx-4c-avx2": ["trend_%s_%s_t%d.png" % (k, g, t) for k in ("gbps", "frac")
                              for g in ("q4_0_gemv", "q8_0_dequant") for t in (1, 2)]
        + ["heatmap.png", "scaling_q4_0_gemv.png", "scaling_q8_0_dequant.png"],
        "unknown": ["trend_gbps_q4_0_gemv_t1.png", "trend_frac_q4_0_gemv_t1.png", "heatmap.png"],
    }

    ARGS = [AMD, INTEL, os.path.dirname(OLD), "--out"]

    def test_renders_reproducibly(self):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            # One render in another process (other hash seed, other working directory) while this
            # process renders the other: reproducible across processes, and half the wall time.
            other = subprocess.Popen([sys.executable, os.path.join(REPORTS, "dashboard.py")] + self.ARGS + [b],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=b,
                                     env=dict(os.environ, PYTHONHASHSEED="12345"))
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(dashboard.main(self.ARGS + [a]), 0)
            _, err = other.communicate()
            self.assertEqual(other.returncode, 0, err)
            files_a = sorted(os.path.relpath(os.path.join(r, n), a) for r, _, ns in os.walk(a) for n in ns)
            files_b = sorted(os.path.relpath(os.path.join(r, n), b) for r, _, ns in os.walk(b) for n in ns)
            self.assertEqual(files_a, files_b)
            expected = sorted(["index.html"] + [os.path.join(hw, n) for hw, ns in self.EXPECTED.items() for n in ns])
            self.assertEqual(files_a, expected)
            _, mismatch, errors = filecmp.cmpfiles(a, b, files_a, shallow=False)
            self.assertEqual((mismatch, errors), ([], []))
            with open(os.path.join(a, "index.html"), encoding="utf-8") as f:
                page = f.read()
            for png in (f for f in expected if f.endswith(".png")):
                self.assertIn('src="%s"' % png, page)
            self.assertNotIn("<script", page)
            self.assertNotIn("http", page)

    def test_committed_site_is_the_committed_reports_rendered(self):
        # reports/results/site is what dashboard.py makes of reports/results/*/*.json: a report
        # added without re-rendering, or a dashboard change that moves pixels, shows up here.
        results = os.path.join(REPORTS, "results")
        site = os.path.join(results, "site")
        if not os.path.isdir(site):
            self.skipTest("no committed site (reports/results/site)")
        import matplotlib
        self.assertEqual(matplotlib.__version__, PINNED_MATPLOTLIB,
                         "the committed PNGs were drawn by matplotlib %s (ci/install-deps.sh pins it)" % PINNED_MATPLOTLIB)
        with tempfile.TemporaryDirectory() as out:
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(dashboard.main([results, "--out", out]), 0)
            made = sorted(os.path.relpath(os.path.join(r, n), out) for r, _, ns in os.walk(out) for n in ns)
            committed = sorted(os.path.relpath(os.path.join(r, n), site) for r, _, ns in os.walk(site) for n in ns)
            self.assertEqual(made, committed)
            _, mismatch, errors = filecmp.cmpfiles(out, site, made, shallow=False)
            self.assertEqual((mismatch, errors), ([], []), "re-render: python3 reports/dashboard.py reports/results "
                                                           "--out reports/results/site --clean")

    def test_bad_report(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "bad.json")
            write_json(bad, {"context": {"variant_isa": "{not json"}, "benchmarks": []})
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                self.assertEqual(dashboard.main([bad, "--out", os.path.join(tmp, "site")]), 2)
            self.assertIn("context.variant_isa", err.getvalue())
            self.assertIn(bad, err.getvalue())


if __name__ == "__main__":
    unittest.main(verbosity=2)
