#include "harness/verify.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include "harness/check.h"
#include "harness/family.h"
#include "harness/fill.h"
#include "harness/model_dir.h"
#include "harness/prepared.h"
#include "harness/run.h"
#include "reference/common/half.h"

namespace qb {
namespace {

std::string hex_bytes(const uint8_t* p, std::size_t n) {
  std::string s;
  char buf[4];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", p[i]);
    s += buf;
  }
  return s;
}

std::string float_str(float f) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g (0x%08x)", static_cast<double>(f), f32_to_bits(f));
  return buf;
}

std::string sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::vector<float> as_f32(const OwnedTensor& t) {
  std::vector<float> v(static_cast<std::size_t>(t.numel()));
  if (t.dtype == DType::F32) {
    std::memcpy(v.data(), t.bytes.data(), t.bytes.size());
  } else {  // F16 expectations widen exactly
    for (std::size_t i = 0; i < v.size(); ++i) {
      uint16_t h;
      std::memcpy(&h, t.bytes.data() + 2 * i, 2);
      v[i] = fp16_to_f32(h);
    }
  }
  return v;
}

struct Reporter {
  std::string path;  // what the repro line passes to verify
  const VerifyOptions& opt;
  std::ostream& out;
  Tally tally;
  std::string where = path;  // what the report lines name (a model dir's layer, a derived case)

  void line(const char* status, const std::string& what, const std::string& detail) {
    out << status << "  " << where << "  " << what << "  " << detail << "\n";
  }
  void pass(const std::string& what, const std::string& detail) {
    line("PASS", what, detail);
    ++tally.passed;
  }
  void skip(const std::string& what, const std::string& detail) {
    line("SKIP", what, detail);
    ++tally.skipped;
  }
  void untrusted(const std::string& what, const std::string& detail) {
    line("UNTRUSTED", what, detail + " (output matched; not counted as passed)");
    ++tally.skipped;
  }
  // `v` null: a check of no variant (encoder, quantizer). A plugin's kernel reproduces with its
  // library loaded; `threads` is the count the failure showed at (0: every count).
  void fail(const std::string& what, const std::string& detail, const Variant* v, int threads = 0) {
    line("FAIL", what, detail);
    out << "  repro: " << opt.command;
    if (v && v->origin != kOwnOrigin) out << " --plugin " << v->origin;
    if (v) out << " --variant " << v->name;
    if (threads > 0) out << " --threads " << threads;
    out << " " << path << "\n";
    ++tally.failed;
  }
};

// A file that checked nothing did not pass: every check skipped (an unimplemented format, the
// reference alone against its own output, an ISA ceiling below every kernel) is a failure.
void require_checks(Reporter& rep, const std::string& why_none) {
  if (rep.tally.passed == 0 && rep.tally.failed == 0) rep.fail("nothing checked", why_none, nullptr);
}

std::string variant_label(const Variant& v) { return std::string(op_name(v.op)) + "  " + v.name + " [" + target_label(v) + "]"; }

std::string threads_str(const std::vector<int>& threads) {
  std::string s = "threads ";
  for (std::size_t i = 0; i < threads.size(); ++i) s += (i ? "," : "") + std::to_string(threads[i]);
  return s;
}

// The stored bytes of the block holding element (row, col): what a reader needs to see
// first when a decode is wrong.
std::string block_bytes_at(const QWeight& w, int64_t row, int64_t col) {
  const Format& f = *w.format;
  if (f.block_bytes <= 0 || w.tensors.size() != 1) return "";
  const int64_t block = col / f.block_elems;
  const uint8_t* p = w.tensors[0].data + (row * (w.cols / f.block_elems) + block) * f.block_bytes;
  return "block " + std::to_string(row * (w.cols / f.block_elems) + block) + " (row " + std::to_string(row) +
         ", cols " + std::to_string(block * f.block_elems) + ".." + std::to_string((block + 1) * f.block_elems - 1) +
         ") stored " + hex_bytes(p, static_cast<std::size_t>(f.block_bytes)) + "; ";
}

// What a correct kernel must produce on one weight, wherever it came from: a fixture's expect.*
// tensors, the format's reference on harness-drawn inputs, or exact arithmetic. Every check runs
// from this.
struct GemvExpectation {
  int64_t m = 1;
  std::vector<uint8_t> act;     // m activations back to back, in the format's activation encoding
  std::size_t act_shift = 0;    // bytes past a 64-byte boundary the kernel gets `act` at
  std::vector<float> source_x;  // when set: the fp32 x that `act` encodes; the format's quantizer must reproduce it
  std::vector<float> y;         // [m][rows]
  std::vector<double> bounds;   // [m][rows], the rigorous bound
  std::vector<double> sigmas;   // [m][rows], the probabilistic model's (set where x is the harness's random draw)
  bool exact = false;           // y is exact and unique: compared as bits
  bool by_reference = false;    // y is the format's reference output: its reference variant is not checked
  std::string trust;            // why y cannot tell a right kernel from a wrong one, or ""
  std::string where;            // report lines name this instead of the weight ("" = the weight)
};

struct Expectations {
  std::optional<std::vector<float>> inner;  // exact intermediate, compared as bits
  std::string inner_trust;
  std::optional<std::vector<float>> dequant;  // full decode: bits, or within dequant_bounds when set
  std::vector<double> dequant_bounds;
  std::string dequant_trust;
  std::vector<GemvExpectation> gemv;
  // inner and dequant computed by the format's reference: its own variants would only be
  // compared with themselves, so they are reported as skipped, not passed.
  bool by_reference = false;
};

// The trust notes of every expectation (harness/check.h), the same for fixtures and models.
void note_trust(Expectations& e, const QWeight& w) {
  const int64_t chunk = w.format->block_elems > 0 ? w.format->block_elems : 32;
  if (e.inner) e.inner_trust = untrusted_dequant(e.inner->data(), w.rows, w.cols, chunk);
  if (e.dequant) e.dequant_trust = untrusted_dequant(e.dequant->data(), w.rows, w.cols, chunk);
  for (GemvExpectation& g : e.gemv) g.trust = untrusted_gemv(g.y.data(), w.rows * g.m);
}

void quantize_all(const Format& f, const float* x, int64_t m, int64_t cols, uint8_t* out) {
  const std::size_t stride = f.activation->bytes(cols);
  for (int64_t i = 0; i < m; ++i) f.activation->quantize(x + i * cols, cols, out + i * stride);
}

// The 16-bit decodes' expectation: one round-to-nearest-even of each exact fp32 value, widened
// as run_decode widens outputs.
std::vector<float> rounded16(Op op, const std::vector<float>& exact) {
  std::vector<float> out(exact.size());
  for (std::size_t i = 0; i < exact.size(); ++i) out[i] = widen16(op, round16(op, exact[i]));
  return out;
}

// Runs a decode at every thread count of the options: the first result, or the first count
// whose result differs from it in any bit (rows are split over threads, so bits cannot depend on
// the count; NaN payloads may, as the registry's any_nan says).
struct SweepRun {
  std::vector<float> got;
  int failing_threads = 0;  // a count whose result differs from the first, or 0
  int64_t first_diff = -1;
};
template <typename RunFn>
SweepRun run_sweep(const std::vector<int>& threads, std::size_t n, RunFn run) {
  SweepRun r;
  r.got.resize(n);
  std::vector<float> other(n);
  for (std::size_t i = 0; i < threads.size(); ++i) {
    float* out = i == 0 ? r.got.data() : other.data();
    std::fill(out, out + n, -1.0f);
    run(out, threads[i]);
    if (i == 0) continue;
    const BitsCheck same = compare_bits(r.got.data(), other.data(), static_cast<int64_t>(n), NanPolicy::any_nan);
    if (!same.ok()) {
      r.failing_threads = threads[i];
      r.first_diff = same.first_bad;
      return r;
    }
  }
  return r;
}

std::string thread_difference(const SweepRun& r, const std::vector<int>& threads, int64_t cols) {
  return "output depends on the thread count: " + std::to_string(threads[0]) + " and " +
         std::to_string(r.failing_threads) + " threads differ first at element [" + std::to_string(r.first_diff / cols) +
         "][" + std::to_string(r.first_diff % cols) + "]";
}

// Full decodes without a unique bit pattern: elementwise within the format's stated bound.
void check_decode_within(Reporter& rep, const Variant& v, const PreparedWeight& pw, const std::vector<float>& expected,
                         const std::vector<double>& bounds, const std::string& trust) {
  const QWeight& w = pw.weight();
  const SweepRun run = run_sweep(rep.opt.threads, expected.size(), [&](float* out, int t) { run_dequant(v, pw, out, t); });
  if (run.failing_threads) return rep.fail(variant_label(v), thread_difference(run, rep.opt.threads, w.cols), &v, run.failing_threads);
  const std::vector<float>& got = run.got;
  const BoundCheck c = compare_within(expected.data(), got.data(), bounds);
  if (!c.ok()) {
    const int64_t row = c.first_bad / w.cols, col = c.first_bad % w.cols;
    rep.fail(variant_label(v),
             std::to_string(c.failures) + " of " + std::to_string(expected.size()) +
                 " values outside the bound; first bad element [" + std::to_string(row) + "][" + std::to_string(col) +
                 "] (tile rows " + std::to_string(row / 128 * 128) + "+128, cols " + std::to_string(col / 128 * 128) +
                 "+128) expected " + float_str(expected[c.first_bad]) + " got " + float_str(got[c.first_bad]) + " bound " +
                 sci(bounds[c.first_bad]), &v, rep.opt.threads[0]);
    return;
  }
  const std::string detail = "max |err| " + sci(c.max_err) + " = " + sci(c.max_ratio) + " of the format's bound (" +
                             threads_str(rep.opt.threads) + ")";
  if (!trust.empty())
    rep.untrusted(variant_label(v), detail + "; " + trust);
  else
    rep.pass(variant_label(v), detail);
}

void check_dequant(Reporter& rep, const Variant& v, const PreparedWeight& pw, const std::vector<float>& expected,
                   const std::string& trust) {
  const QWeight& w = pw.weight();
  const SweepRun run = run_sweep(rep.opt.threads, expected.size(), [&](float* out, int t) { run_decode(v, pw, out, t); });
  if (run.failing_threads) return rep.fail(variant_label(v), thread_difference(run, rep.opt.threads, w.cols), &v, run.failing_threads);
  const std::vector<float>& got = run.got;
  const BitsCheck c = compare_bits(expected.data(), got.data(), static_cast<int64_t>(expected.size()), v.nan);
  if (!c.ok()) {
    const int64_t row = c.first_bad / w.cols, col = c.first_bad % w.cols;
    rep.fail(variant_label(v),
             std::to_string(c.mismatches) + " of " + std::to_string(expected.size()) + " values differ; first bad " +
                 block_bytes_at(w, row, col) + "element [" + std::to_string(row) + "][" + std::to_string(col) +
                 "] expected " + float_str(expected[c.first_bad]) + " got " + float_str(got[c.first_bad]), &v, rep.opt.threads[0]);
    return;
  }
  const std::string detail = "bit-exact (" + std::to_string(expected.size()) + " values, max 0 ulp, " +
                             std::to_string(c.nan_count) + " NaN, " + threads_str(rep.opt.threads) + ")";
  if (!trust.empty())
    rep.untrusted(variant_label(v), detail + "; " + trust);
  else
    rep.pass(variant_label(v), detail);
}

std::string bound_name(const Format& f, int64_t cols) {
  return f.gemv_bounds ? "the format's GEMV bound"
                       : "bound 2*gamma_n*sum|w*x| (n=" + std::to_string(f.gemv_rounding_depth(cols)) + ")";
}

// Where a wrong GEMV output comes from: the kernel is rerun on output `row` of vector `vec` with
// one activation block at a time zeroed (a weight block, or a format's wider column tile, pairs with
// it), and the reference likewise; the block whose removal takes away most of the error is the
// one to read first. The calls cover the format's row granule around `row` (a banded format's unit).
std::string locate_error(const Variant& v, const PreparedWeight& pw, const GemvExpectation& g, const float* got,
                         int64_t vec, int64_t row) {
  const QWeight& w = pw.weight();
  const Format& f = *w.format;
  const int64_t span = f.block_elems > 0 ? f.block_elems : 128;
  if (!f.gemv_ref || w.cols % span != 0) return "";
  const std::size_t stride = f.activation->bytes(w.cols);
  // The call that covers `row`: its granule of rows, or its unit of a banded format.
  const int64_t extent = call_extent(f, w.rows), unit = f.row_bands > 1 ? row % extent : row;
  const int64_t r0 = unit / f.row_granule * f.row_granule, r1 = std::min(extent, r0 + f.row_granule);
  const double err_all = std::fabs(double(got[vec * w.rows + row]) - g.y[static_cast<std::size_t>(vec * w.rows + row)]);
  std::vector<uint8_t> act(g.act.begin() + static_cast<std::ptrdiff_t>(vec * stride),
                           g.act.begin() + static_cast<std::ptrdiff_t>((vec + 1) * stride));
  std::vector<float> yk(static_cast<std::size_t>(w.rows)), yr(yk.size());
  int64_t best = -1;
  double best_drop = 0;
  // The kernel is called directly on a few rows here, not through its backend's run; holding the
  // backend's prepared weight meanwhile keeps a plugin's prepare/release hooks (ABI 3) around
  // these calls as around every other.
  const auto held = backend_of(v).prepare(v, pw);
  for (int64_t b = 0; b < w.cols / span; ++b) {
    std::vector<uint8_t> a = act;
    // bytes() may count a per-vector header (a scale before the codes): the block's bytes are the
    // difference, not bytes(span).
    const std::size_t at = f.activation->bytes(b * span), len = f.activation->bytes((b + 1) * span) - at;
    std::fill(a.begin() + static_cast<std::ptrdiff_t>(at), a.begin() + static_cast<std::ptrdiff_t>(at + len), 0);
    (v.gemv)(pw.get(), a.data(), 1, r0, r1, yk.data());
    f.gemv_ref(pw.get(), a.data(), 1, r0, r1, yr.data());
    const double drop = err_all - std::fabs(double(yk[row]) - yr[row]);
    if (std::isfinite(drop) && drop > best_drop) {
      best_drop = drop;
      best = b;
    }
  }
  if (best < 0) return "";
  if (f.block_bytes > 0) return "; most of the error comes from " + block_bytes_at(w, row, best * span);
  const std::string rows = f.row_bands > 1 ? "packed row " + std::to_string(r0) + " (rows " + std::to_string(r0) + " + k*" +
                                                  std::to_string(extent) + ")"
                                            : "tile rows " + std::to_string(r0) + "+" + std::to_string(r1 - r0);
  return "; most of the error comes from " + rows + ", cols " +
         std::to_string(best * span) + "+" + std::to_string(span) + " (removing it removes " +
         sci(best_drop / (err_all > 0 ? err_all : 1)) + " of the error)";
}

void check_gemv(Reporter& rep, const Variant& v, const PreparedWeight& pw, const GemvExpectation& g) {
  const QWeight& w = pw.weight();
  const int64_t m = g.m;
  // The activations at the shift the expectation asks for, counted from a 64-byte boundary.
  std::vector<uint8_t> act_buf(g.act.size() + 128);
  const std::size_t lead = (64 - reinterpret_cast<uintptr_t>(act_buf.data()) % 64) % 64 + g.act_shift;
  std::copy(g.act.begin(), g.act.end(), act_buf.begin() + static_cast<std::ptrdiff_t>(lead));
  const uint8_t* act = act_buf.data() + lead;
  const SweepRun run = run_sweep(rep.opt.threads, g.y.size(), [&](float* out, int t) { run_gemv(v, pw, act, m, out, t); });
  if (run.failing_threads) return rep.fail(variant_label(v), thread_difference(run, rep.opt.threads, w.rows), &v, run.failing_threads);
  const std::vector<float>& got = run.got;
  const std::string outputs = std::to_string(g.y.size()) + (m > 1 ? " outputs of " + std::to_string(m) + " vectors" : " rows");
  const auto at = [&](int64_t i) {
    return "row " + std::to_string(i % w.rows) + (m > 1 ? " of vector " + std::to_string(i / w.rows) : "") + " expected " +
           float_str(g.y[i]) + " got " + float_str(got[i]);
  };
  const auto fail = [&](const std::string& what, int64_t i) {
    rep.fail(variant_label(v), what + "; worst at " + at(i) + locate_error(v, pw, g, got.data(), i / w.rows, i % w.rows), &v,
             rep.opt.threads[0]);
  };
  if (g.exact) {
    const BitsCheck c = compare_bits(g.y.data(), got.data(), static_cast<int64_t>(g.y.size()), NanPolicy::any_nan);
    if (!c.ok()) {
      int64_t worst = c.first_bad;
      for (std::size_t i = 0; i < g.y.size(); ++i)
        if (std::fabs(double(got[i]) - g.y[i]) > std::fabs(double(got[worst]) - g.y[worst])) worst = static_cast<int64_t>(i);
      return fail(std::to_string(c.mismatches) + " of " + outputs + " differ from the exact result (inputs made exact in fp32, any order gives these bits)", worst);
    }
    const std::string detail = "bit-exact to the exact result (" + outputs + ", " + threads_str(rep.opt.threads) + ")";
    return g.trust.empty() ? rep.pass(variant_label(v), detail) : rep.untrusted(variant_label(v), detail + "; " + g.trust);
  }
  const BoundCheck c = compare_within(g.y.data(), got.data(), g.bounds);
  if (!c.ok())
    return fail(std::to_string(c.failures) + " of " + outputs + " outside " + bound_name(*w.format, w.cols) + " (worst |err| " +
                    sci(std::fabs(double(got[c.worst]) - g.y[c.worst])) + " > " + sci(g.bounds[c.worst]) + ")",
                c.worst);
  std::string detail = c.bit_exact ? "bit-exact to the expected y (" + outputs + ")"
                                   : "max |err| " + sci(c.max_err) + " = " + sci(c.max_ratio) + " of " +
                                         bound_name(*w.format, w.cols) + " (" + outputs + ")";
  if (!g.sigmas.empty()) {
    const ModelCheck mc = compare_model(g.y.data(), got.data(), g.sigmas);
    const std::string stats = "probabilistic model: max z " + sci(mc.max_z) + " (limit " + sci(kModelLambda) + "), rho " +
                              sci(mc.rho) + " (limit " + sci(mc.rho_limit) + ", " + std::to_string(mc.counted) + " outputs)";
    if (!mc.ok())
      return fail("outside the probabilistic model of a correct fp32 kernel: " + std::to_string(mc.failures) + " of " +
                      outputs + " beyond " + sci(kModelLambda) + " sigma; " + stats,
                  mc.worst);
    detail += "; " + stats;
  }
  detail += ", " + threads_str(rep.opt.threads);
  if (!g.trust.empty())
    rep.untrusted(variant_label(v), detail + "; " + g.trust);
  else
    rep.pass(variant_label(v), detail);
}

// The format's activation quantizer must reproduce the activation bytes the expectation holds.
void check_quantizer(Reporter& rep, const Format& f, int64_t cols, const GemvExpectation& g) {
  std::vector<uint8_t> mine(g.act.size());
  quantize_all(f, g.source_x.data(), g.m, cols, mine.data());
  const auto bad = std::mismatch(mine.begin(), mine.end(), g.act.begin());
  if (bad.first == mine.end())
    rep.pass("activation  " + f.activation->id + " quantizer", "bytes identical to expect.x_q");
  else
    rep.fail("activation  " + f.activation->id + " quantizer",
             "first differing byte " + std::to_string(bad.first - mine.begin()) + ": expected " +
                 hex_bytes(&*bad.second, 1) + " got " + hex_bytes(&*bad.first, 1), nullptr);
}

void check_encoder(Reporter& rep, const Fixture& fx, EncodeFn encode, const std::string& name) {
  const OwnedTensor* want = fx.find("expect.encode");
  const OwnedTensor* mask = fx.find("expect.encode_mask");  // 1: a defined byte; 0: not compared
  std::vector<std::vector<uint8_t>> tensors;
  encode(fx.find("source")->as<float>(), fx.rows, fx.cols, fx.params, tensors);
  std::vector<uint8_t> got;
  for (const auto& t : tensors) got.insert(got.end(), t.begin(), t.end());
  if (got.size() != want->bytes.size()) {
    rep.fail("encode  " + name,
             "produced " + std::to_string(got.size()) + " bytes, expected " + std::to_string(want->bytes.size()), nullptr);
    return;
  }
  std::size_t at = 0, masked = 0;
  for (; at < got.size(); ++at) {
    if (mask && !mask->bytes[at]) {
      ++masked;
      continue;
    }
    if (got[at] != want->bytes[at]) break;
  }
  if (at == got.size()) {
    rep.pass("encode  " + name, "bytes identical to expect.encode (" + std::to_string(got.size() - masked) + " bytes" +
                                    (masked ? ", " + std::to_string(masked) + " undefined bytes not compared" : "") + ")");
    return;
  }
  const std::size_t bb = static_cast<std::size_t>(fx.format->block_bytes > 0 ? fx.format->block_bytes : 16);
  const std::size_t start = at / bb * bb, len = std::min(bb, got.size() - start);
  rep.fail("encode  " + name,
           "first differing block " + std::to_string(at / bb) + " (byte " + std::to_string(at) + "): expected " +
               hex_bytes(want->bytes.data() + start, len) + " got " + hex_bytes(got.data() + start, len), nullptr);
}

// The variants of `op` that run here (after --variant); the others are reported as skipped.
std::vector<const Variant*> select_for(Reporter& rep, const std::vector<Variant>& pool, const Format& f, Op op) {
  Selection s = select_variants(pool, f.id, op, rep.opt.isa_cap);
  if (!rep.opt.only_variant.empty()) {
    const auto other = [&](const Variant* v) { return v->name != rep.opt.only_variant; };
    s.run.erase(std::remove_if(s.run.begin(), s.run.end(), other), s.run.end());
    s.skipped.erase(std::remove_if(s.skipped.begin(), s.skipped.end(), [&](const auto& sk) { return other(sk.first); }),
                    s.skipped.end());
  }
  for (const auto& [v, why] : s.skipped) rep.skip(variant_label(*v), why);
  return s.run;
}

// The one check runner: every selected variant of each op the expectations cover, in the order
// inner, dequant, GEMV (each GEMV expectation after its activation quantizer check).
void run_checks(Reporter& rep, const PreparedWeight& pw, const Expectations& e, const std::vector<Variant>& pool) {
  const QWeight& w = pw.weight();
  const Format& f = *w.format;
  const std::string where = rep.where;
  const auto checked = [&](Op op, bool by_reference) {
    std::vector<const Variant*> run = select_for(rep, pool, f, op);
    if (!by_reference) return run;
    std::vector<const Variant*> others;
    for (const Variant* v : run) {
      if (v->reference)
        rep.skip(variant_label(*v), "the expectation is this reference's own output");
      else
        others.push_back(v);
    }
    return others;
  };
  // A kernel writing outside its output fails that check with its repro; the others still run.
  const auto guarded = [&](const Variant& v, auto&& check) {
    try {
      check();
    } catch (const OutputGuardError& err) {
      rep.fail(variant_label(v), err.what(), &v);
    }
  };
  if (e.inner)
    for (const Variant* v : checked(Op::inner, e.by_reference))
      guarded(*v, [&] { check_dequant(rep, *v, pw, *e.inner, e.inner_trust); });
  if (e.dequant)
    for (const Variant* v : checked(Op::dequant, e.by_reference))
      guarded(*v, [&] {
        if (!e.dequant_bounds.empty())
          check_decode_within(rep, *v, pw, *e.dequant, e.dequant_bounds, e.dequant_trust);
        else
          check_dequant(rep, *v, pw, *e.dequant, e.dequant_trust);
      });
  // The 16-bit decodes of formats whose fp32 decode is exact.
  if (e.dequant && e.dequant_bounds.empty())
    for (const Op op : {Op::dequant_f16, Op::dequant_bf16}) {
      const std::vector<const Variant*> run = checked(op, e.by_reference);
      if (run.empty()) continue;
      const std::vector<float> expected = rounded16(op, *e.dequant);
      for (const Variant* v : run) guarded(*v, [&] { check_dequant(rep, *v, pw, expected, e.dequant_trust); });
    }
  for (const GemvExpectation& g : e.gemv) {
    rep.where = g.where.empty() ? where : where + " " + g.where;
    if (!g.source_x.empty() && rep.opt.only_variant.empty()) check_quantizer(rep, f, w.cols, g);
    for (const Variant* v : checked(Op::gemv, g.by_reference)) guarded(*v, [&] { check_gemv(rep, *v, pw, g); });
  }
  rep.where = where;
}

// A fixture's expectations: its expect.* tensors.
Expectations fixture_expectations(const Fixture& fx, const QWeight& w) {
  const Format& f = *fx.format;
  Expectations e;
  if (const OwnedTensor* inner = fx.find("expect.inner"); inner && f.inner_ref) e.inner = as_f32(*inner);
  if (const OwnedTensor* deq = fx.find("expect.dequant")) {
    e.dequant = as_f32(*deq);
    if (f.dequant_bounds) e.dequant_bounds = f.dequant_bounds(w);
  }
  if (const OwnedTensor* y = fx.find("expect.y")) {
    GemvExpectation g;
    g.m = y->numel() / fx.rows;
    if (const OwnedTensor* xq = fx.find("expect.x_q")) {
      g.act = xq->bytes;
      if (const OwnedTensor* x = fx.find("expect.x")) g.source_x = as_f32(*x);
    } else {
      g.act.resize(f.activation->bytes(fx.cols) * static_cast<std::size_t>(g.m));
      quantize_all(f, fx.find("expect.x")->as<float>(), g.m, fx.cols, g.act.data());
    }
    g.y = as_f32(*y);
    g.bounds = gemv_bounds(w, g.act.data(), g.m);
    e.gemv.push_back(std::move(g));
  }
  note_trust(e, w);
  return e;
}

// The batch sizes each GEMV runs at: every m a batching kernel may special-case (1..8 in one pass,
// 9 and 17 across a pass boundary, 16 two full passes) where the format has batching variants in
// the pool; one vector at a time otherwise.
std::vector<int64_t> batch_sizes(const Format& f, const std::vector<Variant>& pool) {
  const bool batches = std::any_of(pool.begin(), pool.end(), [&](const Variant& v) { return v.format == f.id && v.batches; });
  if (!batches) return {1, 3};
  return {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17};
}

// GEMV expectations from the format's reference on a seeded Gaussian x, one per batch size (the
// first m of 17 vectors): y, the rigorous bound and the probabilistic model's sigmas, which hold
// because the harness drew x. `special_act`: the activation's fp16 scale fields get NaN, Inf and
// subnormal values first.
void add_reference_gemv(Expectations& e, const PreparedWeight& pw, const std::vector<int64_t>& ms, uint64_t x_seed,
                        bool special_act, const std::string& tag) {
  const QWeight& w = pw.weight();
  const Format& f = *w.format;
  if (!f.gemv_ref) return;
  const int64_t m_max = *std::max_element(ms.begin(), ms.end());
  const std::size_t stride = f.activation->bytes(w.cols);
  const std::vector<float> x = gaussian(static_cast<std::size_t>(m_max * w.cols), x_seed);
  std::vector<uint8_t> act(stride * static_cast<std::size_t>(m_max));
  quantize_all(f, x.data(), m_max, w.cols, act.data());
  if (special_act) plant_special_activation_scales(*f.activation, act.data(), w.cols, m_max, x_seed);
  std::vector<float> y(static_cast<std::size_t>(m_max * w.rows));
  const int64_t extent = call_extent(f, w.rows);
  if (f.gemv_ref_batches)
    f.gemv_ref(pw.get(), act.data(), m_max, 0, extent, y.data());
  else
    for (int64_t i = 0; i < m_max; ++i) f.gemv_ref(pw.get(), act.data() + i * stride, 1, 0, extent, y.data() + i * w.rows);
  const std::vector<double> bounds = gemv_bounds(w, act.data(), m_max), sigmas = gemv_sigmas(w, act.data(), m_max);
  char seed[32];
  std::snprintf(seed, sizeof seed, "0x%llx", static_cast<unsigned long long>(x_seed));
  for (const int64_t m : ms) {
    GemvExpectation g;
    g.m = m;
    const auto n = static_cast<std::ptrdiff_t>(m * w.rows);
    g.act.assign(act.begin(), act.begin() + static_cast<std::ptrdiff_t>(stride) * m);
    g.y.assign(y.begin(), y.begin() + n);
    g.bounds.assign(bounds.begin(), bounds.begin() + n);
    g.sigmas.assign(sigmas.begin(), sigmas.begin() + n);
    g.by_reference = true;
    g.where = "[" + tag + (tag.empty() ? "" : ", ") + "m=" + std::to_string(m) + ", x seed " + seed + "]";
    e.gemv.push_back(std::move(g));
  }
}

// A weight with no expectations of its own (a model layer, a derived case): the format's
// reference computes them.
Expectations reference_expectations(const PreparedWeight& pw, const std::vector<int64_t>& ms, uint64_t x_seed,
                                    bool special_act, const std::string& tag) {
  const QWeight& w = pw.weight();
  const Format& f = *w.format;
  const auto elems = static_cast<std::size_t>(w.rows * w.cols);
  Expectations e;
  e.by_reference = true;
  if (f.inner_ref) {
    e.inner.emplace(elems);
    f.inner_ref(pw.get(), 0, call_extent(f, w.rows), e.inner->data());
  }
  e.dequant.emplace(elems);
  f.dequant_ref(pw.get(), 0, call_extent(f, w.rows), e.dequant->data());
  if (f.dequant_bounds) e.dequant_bounds = f.dequant_bounds(w);
  add_reference_gemv(e, pw, ms, x_seed, special_act, tag);
  note_trust(e, w);
  return e;
}

// A derived case: a weight the harness made from a fixture, with its expectations.
struct DerivedCase {
  std::string name;
  OwnedWeight weight;
  Expectations expect;
};

std::vector<std::vector<uint8_t>> tensor_bytes(const QWeight& w) {
  std::vector<std::vector<uint8_t>> t;
  for (const auto& v : w.tensors) t.emplace_back(v.data, v.data + v.nbytes);
  return t;
}

// The extra cases verify derives from each fixture, so that every path runs by default:
//  - shifted: every stored tensor and activation one byte past a 64-byte boundary, same
//    expectations (a kernel assuming alignment fails);
//  - trimmed: rows and whole blocks cut off (one-block formats), so rows end in partial vector
//    chunks and row counts split unevenly; the decode expectation is the fixture's own, cut;
//  - special scales: NaN (several payloads), Inf, subnormal and zero fp16 scales in the weight
//    (each of Format::fp16_scale_tensors alone), and in the activations, against the reference;
//  - exact: inputs for which every order gives the same bits (Format::exact_gemv_case), at the
//    fixture's row count and up to 512 columns, and an odd block count.
std::vector<DerivedCase> derived_cases(const Fixture& fx, const QWeight& w, const Expectations& base,
                                       const std::vector<int64_t>& ms) {
  const Format& f = *w.format;
  std::vector<DerivedCase> cases;
  const uint64_t seed = 0xde1'0000 + static_cast<uint64_t>(fx.rows * 31 + fx.cols);
  {
    DerivedCase c{"shifted +1 byte", OwnedWeight(f, w.rows, w.cols, w.params, tensor_bytes(w), 1), base};
    for (GemvExpectation& g : c.expect.gemv) {
      g.act_shift = 1;
      g.source_x.clear();
    }
    cases.push_back(std::move(c));
  }
  if (f.block_bytes > 0 && w.tensors.size() == 1) {
    const int64_t nb = w.cols / f.block_elems;
    std::vector<std::pair<int64_t, int64_t>> shapes;  // rows, blocks per row
    if (w.rows > 1 && nb > 1) shapes.emplace_back(w.rows - 1, nb - 1);
    if (nb > 3) shapes.emplace_back(std::min<int64_t>(w.rows, 7), 3);
    for (const auto& [rows, blocks] : shapes) {
      std::vector<uint8_t> cut;
      for (int64_t r = 0; r < rows; ++r) {
        const uint8_t* p = w.tensors[0].data + r * nb * f.block_bytes;
        cut.insert(cut.end(), p, p + blocks * f.block_bytes);
      }
      const int64_t cols = blocks * f.block_elems;
      OwnedWeight ow(f, rows, cols, w.params, {cut});
      const PreparedWeight pw(ow.view());
      Expectations e = reference_expectations(pw, ms, seed + static_cast<uint64_t>(rows), false, "");
      if (base.dequant && base.dequant_bounds.empty()) {  // the fixture's own decode, cut
        e.by_reference = false;
        for (int64_t r = 0; r < rows; ++r)
          std::copy_n(base.dequant->begin() + r * w.cols, cols, e.dequant->begin() + r * cols);
      }
      cases.push_back({"trimmed to " + std::to_string(rows) + "x" + std::to_string(cols), std::move(ow), std::move(e)});
    }
  }
  // Scale fields in blocks (with any scale tensors), and each scale tensor alone.
  std::vector<std::string> plants;
  if (!f.fp16_scale_offsets.empty()) plants.push_back("");
  plants.insert(plants.end(), f.fp16_scale_tensors.begin(), f.fp16_scale_tensors.end());
  for (const std::string& only : plants) {
    OwnedWeight ow(f, w.rows, w.cols, w.params, tensor_bytes(w));
    plant_special_scales(ow, seed, only);
    Expectations e = reference_expectations(PreparedWeight(ow.view()), ms, seed + 1, false, "");
    cases.push_back({only.empty() ? "special scales" : "special " + only, std::move(ow), std::move(e)});
  }
  if (f.gemv_ref && !f.activation->fp16_scale_offsets.empty()) {
    Expectations e;
    add_reference_gemv(e, PreparedWeight(w), ms, seed + 2, true, "");
    note_trust(e, w);
    cases.push_back({"special activation scales", OwnedWeight(f, w.rows, w.cols, w.params, tensor_bytes(w)), std::move(e)});
  }
  if (f.exact_gemv_case) {
    const int64_t be = f.block_elems > 0 ? f.block_elems : 1, cols = std::min<int64_t>(w.cols, 512) / be * be;
    for (const int64_t c : {cols, cols - be}) {
      std::vector<std::vector<uint8_t>> tensors;
      std::vector<uint8_t> act;
      if (c <= 0 || !f.exact_gemv_case(f, w.rows, c, seed + static_cast<uint64_t>(c), tensors, act)) continue;
      OwnedWeight ow(f, w.rows, c, w.params, tensors);
      // The exact result: products of exactly decoded values summed in fp64, where (by the
      // construction) every partial sum is exact; stored to fp32 without rounding.
      std::vector<float> wd(static_cast<std::size_t>(w.rows * c)), x(static_cast<std::size_t>(c));
      f.dequant_ref(PreparedWeight(ow.view()).get(), 0, call_extent(f, w.rows), wd.data());
      f.activation->dequant(act.data(), c, x.data());
      GemvExpectation g;
      g.act = act;
      g.exact = true;
      for (int64_t r = 0; r < w.rows; ++r) {
        double sum = 0;
        for (int64_t i = 0; i < c; ++i) sum += static_cast<double>(wd[static_cast<std::size_t>(r * c + i)]) * x[static_cast<std::size_t>(i)];
        g.y.push_back(static_cast<float>(sum));
      }
      Expectations e;
      e.gemv.push_back(std::move(g));
      note_trust(e, ow.view());
      cases.push_back({"exact inputs " + std::to_string(w.rows) + "x" + std::to_string(c), std::move(ow), std::move(e)});
    }
  }
  return cases;
}

// With --variant, only inputs of that variant's format have anything to check.
bool checks_format(const VerifyOptions& opt, const std::vector<Variant>& pool, const Format& f) {
  return opt.only_variant.empty() || std::any_of(pool.begin(), pool.end(), [&](const Variant& v) {
           return v.name == opt.only_variant && v.format == f.id;
         });
}

Tally verify_model_layer(const std::string& dir, const ModelLayer& layer, uint64_t x_seed, const std::vector<Variant>& pool,
                         const VerifyOptions& opt, std::ostream& out) {
  const LayerSpec& s = layer.spec;
  const std::string name = dir + "::" + s.name + " (" + std::to_string(s.rows) + "x" + std::to_string(s.cols) +
                           (s.summary.empty() ? "" : " " + s.summary) + ")";
  Reporter rep{dir, opt, out, {}, name};
  if (!checks_format(opt, pool, *layer.weight.format)) return rep.tally;
  const PreparedWeight pw(layer.weight);
  run_checks(rep, pw, reference_expectations(pw, batch_sizes(*layer.weight.format, pool), x_seed, false, ""), pool);
  require_checks(rep, "every check of this layer was skipped (the SKIP lines say why)");
  return rep.tally;
}

}  // namespace

Tally verify_model_dir(const std::string& dir, const std::vector<Variant>& pool, const VerifyOptions& opt,
                       std::ostream& out) {
  const ModelDir model = open_model_dir(dir, ModelData::mapped);
  Tally total;
  if (model.layers.empty()) {
    if (model.family)
      out << "FAIL  " << dir << "  no layers the " << model.family->id << " family recognizes in "
          << model.files.files.size() << " file(s)\n";
    else
      out << "FAIL  " << dir << "  no tensor of a quantized type in this GGUF file\n";
    ++total.failed;
  }
  // Formats without a reference yet: one line each, with the layers they hold.
  std::vector<std::pair<const Format*, int64_t>> unimplemented;
  for (const auto& layer : model.layers) {
    const Format* f = layer.weight.format;
    if (f->implemented()) continue;
    auto it = std::find_if(unimplemented.begin(), unimplemented.end(), [&](const auto& p) { return p.first == f; });
    if (it == unimplemented.end()) it = unimplemented.insert(unimplemented.end(), {f, 0});
    ++it->second;
  }
  for (const auto& [f, n] : unimplemented) {
    out << "SKIP  " << dir << "  " << f->id << "  format " << f->id << " is not implemented yet (" << n << " layers)\n";
    ++total.skipped;
  }
  for (const auto& [type, n] : model.unquantized) {
    out << "SKIP  " << dir << "  " << type << "  unquantized, no weight format checks it (" << n << " tensors)\n";
    ++total.skipped;
  }
  // Fixed seeds, one per layer in file order: a failure reproduces with the same x.
  uint64_t x_seed = 0x0e813'0000;
  for (const auto& layer : model.layers) {
    ++x_seed;
    if (layer.weight.format->implemented()) total.add(verify_model_layer(dir, layer, x_seed, pool, opt, out));
  }
  const bool asked = std::any_of(model.layers.begin(), model.layers.end(),
                                 [&](const ModelLayer& l) { return checks_format(opt, pool, *l.weight.format); });
  if (asked && total.passed == 0 && total.failed == 0) {
    out << "FAIL  " << dir << "  nothing checked: every layer's checks were skipped (the SKIP lines say why)\n";
    ++total.failed;
  }
  return total;
}

Tally verify_encoder(const Fixture& fx, EncodeFn encode, const std::string& encoder_name, std::ostream& out) {
  const VerifyOptions opt;
  Reporter rep{fx.path, opt, out, {}};
  check_encoder(rep, fx, encode, encoder_name);
  return rep.tally;
}

namespace {

void fixture_checks(Reporter& rep, const Fixture& fx, const std::vector<Variant>& pool, const VerifyOptions& opt) {
  const Format& f = *fx.format;
  if (!f.implemented()) {
    rep.skip(f.id, "format " + f.id + " is not implemented yet");
    return;
  }
  const QWeight w = fx.weight();
  if (opt.only_variant.empty() && fx.find("expect.encode") && fx.find("source")) {
    if (f.encode_ref)
      check_encoder(rep, fx, f.encode_ref, f.id + "_encode_ref");
    else
      rep.skip("encode", "format " + f.id + " has no reference encoder yet");
  }
  const PreparedWeight pw(w);
  Expectations e = fixture_expectations(fx, w);
  const std::vector<int64_t> ms = batch_sizes(f, pool);
  if (opt.derived) add_reference_gemv(e, pw, ms, 0x5eed'0000 + static_cast<uint64_t>(fx.rows * 7 + fx.cols), false, "");
  run_checks(rep, pw, e, pool);
  if (!opt.derived) return;
  for (DerivedCase& c : derived_cases(fx, w, e, ms)) {
    rep.where = fx.path + " [" + c.name + "]";
    run_checks(rep, PreparedWeight(c.weight.view()), c.expect, pool);
  }
  rep.where = fx.path;
}

}  // namespace

Tally verify_fixture(const Fixture& fx, const std::vector<Variant>& pool, const VerifyOptions& opt, std::ostream& out) {
  Reporter rep{fx.path, opt, out, {}};
  if (!checks_format(opt, pool, *fx.format)) return rep.tally;
  fixture_checks(rep, fx, pool, opt);
  require_checks(rep, "every check of this file was skipped (the SKIP lines say why)");
  return rep.tally;
}

Tally verify_paths(const std::vector<std::string>& paths, const std::vector<Variant>& pool, const VerifyOptions& opt,
                   std::ostream& out) {
  namespace fs = std::filesystem;
  std::vector<std::pair<std::string, bool>> items;  // path, is a model directory
  Tally total;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec) && is_model_dir(p)) {
      items.emplace_back(p, true);
    } else if (fs::is_directory(p, ec)) {
      // A model directory's shards are weights, not fixtures: it is verified as one model.
      std::vector<std::pair<std::string, bool>> found;
      for (auto it = fs::recursive_directory_iterator(p, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory() && is_model_dir(it->path().string())) {
          found.emplace_back(it->path().string(), true);
          it.disable_recursion_pending();
        } else if (it->is_regular_file() && it->path().extension() == ".safetensors") {
          found.emplace_back(it->path().string(), false);
        } else if (it->is_regular_file() && it->path().extension() == ".gguf") {
          found.emplace_back(it->path().string(), true);
        }
      }
      std::sort(found.begin(), found.end());
      if (found.empty()) {
        out << "FAIL  " << p << "  no .safetensors fixtures, .gguf files or model directories in this folder\n";
        ++total.failed;
      }
      items.insert(items.end(), found.begin(), found.end());
    } else if (const fs::path dir = fs::path(p).has_parent_path() ? fs::path(p).parent_path() : fs::path(".");
               fs::path(p).extension() == ".json" && is_model_dir(dir.string())) {
      items.emplace_back(dir.string(), true);  // a model's config stands for its directory
    } else if (is_gguf_model(p)) {
      items.emplace_back(p, true);
    } else if (fs::exists(p, ec)) {
      items.emplace_back(p, false);
    } else {
      out << "FAIL  " << p << "  no such file or folder\n";
      ++total.failed;
    }
  }
  for (const auto& [file, model] : items) {
    try {
      total.add(model ? verify_model_dir(file, pool, opt, out) : verify_fixture(load_fixture(file), pool, opt, out));
    } catch (const FileError& e) {
      out << "FAIL  " << e.what() << "\n";
      ++total.failed;
    } catch (const std::exception& e) {
      out << "FAIL  " << file << ": " << e.what() << "\n";
      ++total.failed;
    }
  }
  return total;
}

}  // namespace qb
