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
  std::string where = path;  // what the report lines name (a model dir's layer, the x seed)

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
  // library loaded.
  void fail(const std::string& what, const std::string& detail, const Variant* v) {
    line("FAIL", what, detail);
    out << "  repro: " << opt.command;
    if (v && v->origin != kOwnOrigin) out << " --plugin " << v->origin;
    if (v) out << " --variant " << v->name;
    out << " --threads " << opt.threads << " " << path << "\n";
    ++tally.failed;
  }
};

std::string variant_label(const Variant& v) { return std::string(op_name(v.op)) + "  " + v.name + " [" + target_label(v) + "]"; }

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
// tensors, or the format's reference on a model directory's layer. Every check runs from this.
struct GemvExpectation {
  int64_t m = 1;
  std::vector<uint8_t> act;     // m activations back to back, in the format's activation encoding
  std::vector<float> source_x;  // when set: the fp32 x that `act` encodes; the format's quantizer must reproduce it
  std::vector<float> y;         // [m][rows]
  std::vector<double> bounds;   // [m][rows]
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
  // Computed by the format's reference (a model directory's layers): its own variants would only
  // be compared with themselves, so they are reported as skipped, not passed.
  bool by_reference = false;
};

// The trust notes of every expectation (harness/check.h), the same for fixtures and models.
void note_trust(Expectations& e, const QWeight& w) {
  const int64_t chunk = w.format->block_elems > 0 ? w.format->block_elems : 32;
  if (e.inner) e.inner_trust = untrusted_dequant(e.inner->data(), w.rows, w.cols, chunk);
  if (e.dequant) e.dequant_trust = untrusted_dequant(e.dequant->data(), w.rows, w.cols, chunk);
  for (GemvExpectation& g : e.gemv) g.trust = untrusted_gemv(g.y.data(), w.rows * g.m);
}

// The harness's GEMV bound for each of the m vectors of `act`, back to back.
std::vector<double> gemv_bounds_all(const QWeight& w, const uint8_t* act, int64_t m) {
  const std::size_t stride = w.format->activation->bytes(w.cols);
  std::vector<double> bounds;
  for (int64_t i = 0; i < m; ++i) {
    const std::vector<double> b = gemv_bounds(w, act + i * stride);
    bounds.insert(bounds.end(), b.begin(), b.end());
  }
  return bounds;
}

void quantize_all(const Format& f, const float* x, int64_t m, int64_t cols, uint8_t* out) {
  const std::size_t stride = f.activation->bytes(cols);
  for (int64_t i = 0; i < m; ++i) f.activation->quantize(x + i * cols, cols, out + i * stride);
}

// Full decodes without a unique bit pattern: elementwise within the format's stated bound.
void check_decode_within(Reporter& rep, const Variant& v, const PreparedWeight& pw, const std::vector<float>& expected,
                         const std::vector<double>& bounds, const std::string& trust) {
  const QWeight& w = pw.weight();
  std::vector<float> got(expected.size());
  run_dequant(v, pw, got.data(), rep.opt.threads);
  const BoundCheck c = compare_within(expected.data(), got.data(), bounds);
  if (!c.ok()) {
    const int64_t row = c.first_bad / w.cols, col = c.first_bad % w.cols;
    rep.fail(variant_label(v),
             std::to_string(c.failures) + " of " + std::to_string(expected.size()) +
                 " values outside the bound; first bad element [" + std::to_string(row) + "][" + std::to_string(col) +
                 "] expected " + float_str(expected[c.first_bad]) + " got " + float_str(got[c.first_bad]) + " bound " +
                 sci(bounds[c.first_bad]), &v);
    return;
  }
  const std::string detail = "max |err| " + sci(c.max_err) + " = " + sci(c.max_ratio) + " of the format's bound";
  if (!trust.empty())
    rep.untrusted(variant_label(v), detail + "; " + trust);
  else
    rep.pass(variant_label(v), detail);
}

void check_dequant(Reporter& rep, const Variant& v, const PreparedWeight& pw, const std::vector<float>& expected,
                   const std::string& trust) {
  const QWeight& w = pw.weight();
  std::vector<float> got(expected.size());
  run_dequant(v, pw, got.data(), rep.opt.threads);
  const BitsCheck c = compare_bits(expected.data(), got.data(), static_cast<int64_t>(expected.size()), v.nan);
  if (!c.ok()) {
    const int64_t row = c.first_bad / w.cols, col = c.first_bad % w.cols;
    rep.fail(variant_label(v),
             std::to_string(c.mismatches) + " of " + std::to_string(expected.size()) + " values differ; first bad " +
                 block_bytes_at(w, row, col) + "element [" + std::to_string(row) + "][" + std::to_string(col) +
                 "] expected " + float_str(expected[c.first_bad]) + " got " + float_str(got[c.first_bad]), &v);
    return;
  }
  const std::string detail = "bit-exact (" + std::to_string(expected.size()) + " values, max 0 ulp, " +
                             std::to_string(c.nan_count) + " NaN)";
  if (!trust.empty())
    rep.untrusted(variant_label(v), detail + "; " + trust);
  else
    rep.pass(variant_label(v), detail);
}

std::string bound_name(const Format& f, int64_t cols) {
  return f.gemv_bounds ? "the format's GEMV bound"
                       : "bound 2*gamma_n*sum|w*x| (n=" + std::to_string(f.gemv_rounding_depth(cols)) + ")";
}

void check_gemv(Reporter& rep, const Variant& v, const PreparedWeight& pw, const GemvExpectation& g) {
  const QWeight& w = pw.weight();
  const int64_t m = g.m;
  std::vector<float> got(g.y.size());
  run_gemv(v, pw, g.act.data(), m, got.data(), rep.opt.threads);
  const BoundCheck c = compare_within(g.y.data(), got.data(), g.bounds);
  const std::string outputs = std::to_string(g.y.size()) + (m > 1 ? " outputs of " + std::to_string(m) + " vectors" : " rows");
  if (!c.ok()) {
    const int64_t i = c.first_bad, r = i % w.rows;
    rep.fail(variant_label(v),
             std::to_string(c.failures) + " of " + outputs + " outside the bound; first bad row " + std::to_string(r) +
                 (m > 1 ? " of vector " + std::to_string(i / w.rows) : "") + " (" + block_bytes_at(w, r, 0) +
                 "...) expected " + float_str(g.y[i]) + " got " + float_str(got[i]) + " |err| " +
                 sci(std::fabs(double(got[i]) - g.y[i])) + " > " + sci(g.bounds[i]) + ", " + bound_name(*w.format, w.cols), &v);
    return;
  }
  const std::string detail = c.bit_exact ? "bit-exact to the expected y (" + outputs + ")"
                                         : "max |err| " + sci(c.max_err) + " = " + sci(c.max_ratio) + " of " +
                                               bound_name(*w.format, w.cols);
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
  std::vector<std::vector<uint8_t>> tensors;
  encode(fx.find("source")->as<float>(), fx.rows, fx.cols, fx.params, tensors);
  std::vector<uint8_t> got;
  for (const auto& t : tensors) got.insert(got.end(), t.begin(), t.end());
  const auto bad = std::mismatch(got.begin(), got.end(), want->bytes.begin(), want->bytes.end());
  if (got.size() == want->bytes.size() && bad.first == got.end()) {
    rep.pass("encode  " + name, "bytes identical to expect.encode (" + std::to_string(got.size()) + " bytes)");
    return;
  }
  if (got.size() != want->bytes.size()) {
    rep.fail("encode  " + name,
             "produced " + std::to_string(got.size()) + " bytes, expected " + std::to_string(want->bytes.size()), nullptr);
    return;
  }
  const std::size_t bb = static_cast<std::size_t>(fx.format->block_bytes > 0 ? fx.format->block_bytes : 16);
  const std::size_t at = static_cast<std::size_t>(bad.first - got.begin());
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
  const auto checked = [&](Op op) {
    std::vector<const Variant*> run = select_for(rep, pool, f, op);
    if (!e.by_reference) return run;
    std::vector<const Variant*> others;
    for (const Variant* v : run) {
      if (v->reference)
        rep.skip(variant_label(*v), "the expectation is this reference's own output");
      else
        others.push_back(v);
    }
    return others;
  };
  if (e.inner)
    for (const Variant* v : checked(Op::inner)) check_dequant(rep, *v, pw, *e.inner, e.inner_trust);
  if (e.dequant)
    for (const Variant* v : checked(Op::dequant)) {
      if (!e.dequant_bounds.empty())
        check_decode_within(rep, *v, pw, *e.dequant, e.dequant_bounds, e.dequant_trust);
      else
        check_dequant(rep, *v, pw, *e.dequant, e.dequant_trust);
    }
  for (const GemvExpectation& g : e.gemv) {
    rep.where = g.where.empty() ? where : g.where;
    if (!g.source_x.empty() && rep.opt.only_variant.empty()) check_quantizer(rep, f, w.cols, g);
    for (const Variant* v : checked(Op::gemv)) check_gemv(rep, *v, pw, g);
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
    g.bounds = gemv_bounds_all(w, g.act.data(), g.m);
    e.gemv.push_back(std::move(g));
  }
  note_trust(e, w);
  return e;
}

// A model layer carries no expectations: the format's reference computes them, on a seeded
// random x for m = 1 and m = 4 (one vector at a time, as the reference GEMV runs).
Expectations reference_expectations(const PreparedWeight& pw, uint64_t x_seed, const std::string& where) {
  const QWeight& w = pw.weight();
  const Format& f = *w.format;
  const auto elems = static_cast<std::size_t>(w.rows * w.cols);
  Expectations e;
  e.by_reference = true;
  if (f.inner_ref) {
    e.inner.emplace(elems);
    f.inner_ref(pw.get(), 0, w.rows, e.inner->data());
  }
  e.dequant.emplace(elems);
  f.dequant_ref(pw.get(), 0, w.rows, e.dequant->data());
  if (f.dequant_bounds) e.dequant_bounds = f.dequant_bounds(w);
  if (f.gemv_ref) {
    const std::size_t stride = f.activation->bytes(w.cols);
    char seed[32];
    std::snprintf(seed, sizeof seed, "0x%llx", static_cast<unsigned long long>(x_seed));
    for (const int64_t m : {int64_t{1}, int64_t{4}}) {
      GemvExpectation g;
      g.m = m;
      const std::vector<float> x = gaussian(static_cast<std::size_t>(m * w.cols), x_seed);
      g.act.resize(stride * static_cast<std::size_t>(m));
      quantize_all(f, x.data(), m, w.cols, g.act.data());
      g.y.resize(static_cast<std::size_t>(m * w.rows));
      for (int64_t i = 0; i < m; ++i) f.gemv_ref(pw.get(), g.act.data() + i * stride, 1, 0, w.rows, g.y.data() + i * w.rows);
      g.bounds = gemv_bounds_all(w, g.act.data(), m);
      g.where = where + " [m=" + std::to_string(m) + ", x seed " + seed + "]";
      e.gemv.push_back(std::move(g));
    }
  }
  note_trust(e, w);
  return e;
}

Tally verify_model_layer(const std::string& dir, const ModelLayer& layer, uint64_t x_seed, const std::vector<Variant>& pool,
                         const VerifyOptions& opt, std::ostream& out) {
  const LayerSpec& s = layer.spec;
  const std::string name = dir + "::" + s.name + " (" + std::to_string(s.rows) + "x" + std::to_string(s.cols) +
                           (s.summary.empty() ? "" : " " + s.summary) + ")";
  Reporter rep{dir, opt, out, {}, name};
  const PreparedWeight pw(layer.weight);
  run_checks(rep, pw, reference_expectations(pw, x_seed, name), pool);
  return rep.tally;
}

}  // namespace

Tally verify_model_dir(const std::string& dir, const std::vector<Variant>& pool, const VerifyOptions& opt,
                       std::ostream& out) {
  const ModelDir model = open_model_dir(dir, ModelData::mapped);
  Tally total;
  if (model.layers.empty()) {
    out << "FAIL  " << dir << "  no layers the " << model.family->id << " family recognizes in "
        << model.files.files.size() << " file(s)\n";
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
  // Fixed seeds, one per layer in file order: a failure reproduces with the same x.
  uint64_t x_seed = 0x0e813'0000;
  for (const auto& layer : model.layers) {
    ++x_seed;
    if (layer.weight.format->implemented()) total.add(verify_model_layer(dir, layer, x_seed, pool, opt, out));
  }
  return total;
}

Tally verify_encoder(const Fixture& fx, EncodeFn encode, const std::string& encoder_name, std::ostream& out) {
  const VerifyOptions opt;
  Reporter rep{fx.path, opt, out, {}};
  check_encoder(rep, fx, encode, encoder_name);
  return rep.tally;
}

Tally verify_fixture(const Fixture& fx, const std::vector<Variant>& pool, const VerifyOptions& opt, std::ostream& out) {
  Reporter rep{fx.path, opt, out, {}};
  const Format& f = *fx.format;
  if (!f.implemented()) {
    rep.skip(f.id, "format " + f.id + " is not implemented yet");
    return rep.tally;
  }
  const QWeight w = fx.weight();
  if (opt.only_variant.empty() && fx.find("expect.encode") && fx.find("source")) {
    if (f.encode_ref)
      check_encoder(rep, fx, f.encode_ref, f.id + "_encode_ref");
    else
      rep.skip("encode", "format " + f.id + " has no reference encoder yet");
  }
  const PreparedWeight pw(w);
  run_checks(rep, pw, fixture_expectations(fx, w), pool);
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
        }
      }
      std::sort(found.begin(), found.end());
      if (found.empty()) {
        out << "FAIL  " << p << "  no .safetensors fixtures or model directories in this folder\n";
        ++total.failed;
      }
      items.insert(items.end(), found.begin(), found.end());
    } else if (const fs::path dir = fs::path(p).has_parent_path() ? fs::path(p).parent_path() : fs::path(".");
               fs::path(p).extension() == ".json" && is_model_dir(dir.string())) {
      items.emplace_back(dir.string(), true);  // a model's config stands for its directory
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
