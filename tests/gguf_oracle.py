#!/usr/bin/env python3
"""The independent oracle for the GGUF container and the GGML decoders: upstream's own Python
package (gguf-py, pinned to gguf==0.19.0 in the venv ci/install-deps.sh makes under build/pyenv).

For every GGML weight type that both gguf-py and our reference decode, this writes a GGUF file with
gguf-py's GGUFWriter holding
  - the upstream-quantized blocks of /work/shared/vectors/ggml/<type>/*.q_*.bin (when present), and
  - random blocks whose fp16 scale fields hold NaN (several payloads, a signalling one), +-Inf,
    subnormals, +-0 and ordinary values,
then reads it with our reader and decodes it with our reference (build/bin/gguf-dequant) and
compares every value as bits with gguf.quants.dequantize (NaN payloads included, on purpose: both
sides must quiet and propagate them the same way). Where upstream's own to_float output exists
(*.q_*.to_float.f32.bin), a difference names which side agrees with it.

First, as a note on the oracle itself, gguf-py's decode of every upstream file against upstream's
to_float, for every type gguf-py decodes (at 0.19.0: identical bits for all 23 of them). Prints
which types gguf-py lacks and which we lack (reported, not failed). Exit 1 if any type both
support differs in one bit, or our tool refuses gguf-py's file; 77 (ctest SKIP_RETURN_CODE) when
the venv is missing.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

SKIP = 77

# fp16 bit patterns planted in scale fields: quiet NaNs with payloads and both signs, a signalling
# NaN, +-Inf, the smallest and largest subnormals, +-0, and ordinary values.
SPECIAL_F16 = [0x7E00, 0x7E01, 0xFE55, 0x7C01, 0x7D00, 0x7C00, 0xFC00, 0x0001, 0x83FF, 0x8000, 0x0000, 0x3C00, 0xB800]


# Where upstream decodes `v * (sign ? -1.f : 1.f)` (iq2_*, iq3_*), its build (GCC, Release) flips
# the sign bit, so a NaN's sign flips; numpy's multiply keeps it (IEEE 754 leaves the sign of a NaN
# product unspecified). Our reference follows upstream's build (reference/ggml/iq_common.h
# apply_sign). For these types a pair of NaNs differing in the sign bit alone is counted and
# reported, never passed over silently; any other difference fails.
NAN_SIGN_FLIP_TYPES = {"iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venv", required=True, help="the venv holding gguf==0.19.0 and numpy (build/pyenv)")
    ap.add_argument("--tool", required=True, help="build/bin/gguf-dequant")
    ap.add_argument("--vectors", help="the upstream GGML vectors folder (shared/vectors/ggml); skipped if absent")
    args = ap.parse_args()

    python = os.path.join(args.venv, "bin", "python")
    if not os.path.exists(python):
        print(f"SKIP: no venv at {args.venv} (ci/install-deps.sh makes it: python3 -m venv, pip install gguf==0.19.0 numpy)")
        return SKIP
    if os.path.realpath(sys.prefix) != os.path.realpath(args.venv):
        os.execv(python, [python] + sys.argv)

    import numpy as np
    import gguf
    from gguf import GGMLQuantizationType as QT

    version = getattr(gguf, "__version__", None)
    if version is None:
        from importlib.metadata import version as package_version
        version = package_version("gguf")
    print(f"gguf-py {version}, numpy {np.__version__}")

    ours = json.loads(subprocess.run([args.tool, "--types"], check=True, capture_output=True, text=True).stdout)
    vectors = args.vectors if args.vectors and os.path.isdir(args.vectors) else None
    if not vectors:
        print(f"note: no upstream vectors at {args.vectors}; random blocks only")

    def py_supports(qtype, block_bytes):
        try:
            gguf.quants.dequantize(np.zeros((1, block_bytes), dtype=np.uint8), qtype)
            return True
        except NotImplementedError:
            return False

    rng = np.random.default_rng(20261201)
    both, py_lacks, we_lack = [], [], []
    for t in ours:
        if not t["format"]:
            continue
        qtype = QT.__members__.get(t["name"].upper())
        has_py = qtype is not None and py_supports(qtype, t["block_bytes"])
        if not has_py:
            py_lacks.append(t["name"])
        if not t["implemented"]:
            we_lack.append(t["name"])
        if has_py and t["implemented"]:
            both.append((t, qtype))

    def upstream_tensors(name):
        """(tensor name, uint8 [rows, row_bytes], upstream to_float bits or None) per upstream file."""
        out = []
        folder = os.path.join(vectors, name) if vectors else None
        manifest = os.path.join(folder, "manifest.json") if folder else None
        if not manifest or not os.path.exists(manifest):
            return out
        row_bytes = json.load(open(manifest))["row_bytes"]
        for path in sorted(glob.glob(os.path.join(folder, "*.q_*.bin"))):
            if ".to_float" in os.path.basename(path):
                continue
            raw = np.fromfile(path, dtype=np.uint8)
            if raw.size == 0 or raw.size % row_bytes:
                continue
            to_float = path[: -len(".bin")] + ".to_float.f32.bin"
            ref = np.fromfile(to_float, dtype=np.uint32) if os.path.exists(to_float) else None
            out.append(("up." + os.path.basename(path)[: -len(".bin")], raw.reshape(-1, row_bytes), ref))
        return out

    # The oracle's own standing: gguf-py against upstream's to_float output, for every type it
    # decodes (information only: a difference here is gguf-py's, and shows in the comparison below).
    for t in ours:
        qtype = QT.__members__.get(t["name"].upper())
        if not t["format"] or t["name"] in py_lacks or qtype is None:
            continue
        total, differ = 0, 0
        for _, data, ref in upstream_tensors(t["name"]):
            if ref is None:
                continue
            with np.errstate(all="ignore"):
                theirs = gguf.quants.dequantize(data, qtype).astype(np.float32).reshape(-1).view(np.uint32)
            total += ref.size
            differ += int(np.count_nonzero(theirs != ref)) if theirs.size == ref.size else ref.size
        if total:
            print(f"note  gguf-py vs upstream to_float, {t['name']}: " +
                  ("identical bits" if differ == 0 else f"{differ} differ") + f" ({total} values)")

    failed = []
    with tempfile.TemporaryDirectory(prefix="gguf-oracle-") as tmp:
        for t, qtype in both:
            name, be, bb = t["name"], t["block_elems"], t["block_bytes"]
            tensors = upstream_tensors(name)
            rows, nb = 13, 3
            blocks = rng.integers(0, 256, size=(rows * nb, bb), dtype=np.uint8)
            for i in range(rows * nb):
                for k, off in enumerate(t["fp16_scale_offsets"]):
                    v = SPECIAL_F16[(i + 5 * k) % len(SPECIAL_F16)] if (i + k) % 3 else int(rng.integers(0x2000, 0x4400))
                    blocks[i, off] = v & 0xFF
                    blocks[i, off + 1] = v >> 8
            tensors.append(("random.special_scales", blocks.reshape(rows, nb * bb), None))

            path = os.path.join(tmp, name + ".gguf")
            w = gguf.GGUFWriter(path, "llama")
            w.add_name(f"oracle {name}")
            w.add_tensor("norm.f32", np.linspace(-1, 1, 64, dtype=np.float32))
            for tname, data, _ in tensors:
                w.add_tensor(tname, data, raw_dtype=qtype)
            w.write_header_to_file()
            w.write_kv_data_to_file()
            w.write_tensors_to_file()
            w.close()

            out = os.path.join(tmp, name)
            r = subprocess.run([args.tool, path, out], capture_output=True, text=True)
            if r.returncode != 0:
                print(f"FAIL  {name}: our reader refused gguf-py's file: {r.stderr.strip()}")
                failed.append(name)
                continue
            values, nans, bad, sign_only = 0, 0, 0, 0
            for tname, data, ref in tensors:
                cols = data.shape[1] // bb * be
                with np.errstate(all="ignore"):  # Inf * 0 and NaN scales are planted on purpose
                    theirs = gguf.quants.dequantize(data, qtype).astype(np.float32).reshape(-1).view(np.uint32)
                mine = np.fromfile(os.path.join(out, tname + ".f32.bin"), dtype=np.uint32)
                values += theirs.size
                nans += int(np.count_nonzero(((theirs & 0x7F800000) == 0x7F800000) & ((theirs & 0x7FFFFF) != 0)))
                if mine.size != theirs.size:
                    print(f"FAIL  {name} {tname}: we decoded {mine.size} values, gguf-py {theirs.size}")
                    bad += 1
                    continue
                differs = mine != theirs
                if name in NAN_SIGN_FLIP_TYPES:
                    both_nan = (((mine & 0x7F800000) == 0x7F800000) & ((mine & 0x7FFFFF) != 0) &
                                ((theirs & 0x7F800000) == 0x7F800000) & ((theirs & 0x7FFFFF) != 0))
                    flipped = differs & both_nan & ((mine ^ theirs) == 0x80000000)
                    sign_only += int(np.count_nonzero(flipped))
                    differs &= ~flipped
                diff = np.nonzero(differs)[0]
                if diff.size:
                    i = int(diff[0])
                    who = ""
                    if ref is not None and ref.size == mine.size:
                        who = (", upstream to_float %08x (%s)" %
                               (ref[i], "ours agrees" if ref[i] == mine[i] else
                                "gguf-py agrees" if ref[i] == theirs[i] else "neither agrees"))
                    print(f"FAIL  {name} {tname}: {diff.size} of {mine.size} values differ; first at row {i // cols} "
                          f"col {i % cols}: ours {mine[i]:08x}, gguf-py {theirs[i]:08x}{who}")
                    bad += 1
            if bad:
                failed.append(name)
            else:
                same = (f"identical bits but for {sign_only} NaN signs (upstream's -1.f multiply, folded to a "
                        f"sign flip by GCC; numpy keeps the sign)") if sign_only else "identical bits"
                print(f"PASS  {name}: {len(tensors)} tensors, {values} values ({nans} NaN), {same}")

    print("both decode: " + (", ".join(t["name"] for t, _ in both) or "none"))
    print("gguf-py lacks: " + (", ".join(py_lacks) or "none"))
    print("we lack: " + (", ".join(we_lack) or "none"))
    if failed:
        print("FAILED: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
