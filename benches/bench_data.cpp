#include "benches/bench_data.h"

#include <algorithm>
#include <cstring>
#include <random>
#include <stdexcept>

#include "harness/dtype.h"
#include "harness/fill.h"

namespace qb::bench {
namespace {

constexpr uint64_t kWeightSeed = 0x5eed'0001;
constexpr uint64_t kActivationSeed = 0x5eed'0002;
constexpr std::size_t kTensorAlign = 64;

std::size_t align_up(std::size_t n) { return (n + kTensorAlign - 1) / kTensorAlign * kTensorAlign; }

std::string mib(std::size_t bytes) {
  char buf[32];
  if (bytes < (1 << 20))
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / (1 << 10));
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

// Chunks are seeded by index, so the values do not depend on the thread count.
std::vector<float> gaussian(std::size_t n, uint64_t seed) {
  constexpr std::size_t kChunk = std::size_t{1} << 20;
  std::vector<float> v(n);
  const auto chunks = static_cast<int64_t>((n + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(dynamic)
  for (int64_t c = 0; c < chunks; ++c) {
    std::mt19937_64 rng(seed + static_cast<uint64_t>(c));
    std::normal_distribution<float> dist(0.0f, 1.0f);
    const std::size_t end = std::min(n, (static_cast<std::size_t>(c) + 1) * kChunk);
    for (std::size_t i = static_cast<std::size_t>(c) * kChunk; i < end; ++i) v[i] = dist(rng);
  }
  return v;
}

}  // namespace

std::string DataPlan::describe() const {
  std::string s = shape.str() + ": " + std::to_string(weight_copies) + " x " + mib(copy_bytes) + " weights";
  if (out_copies > 1) s += ", " + std::to_string(out_copies) + " x " + mib(out_bytes) + " outputs";
  return s;
}

DataPlan plan_data(const Format& format, Op op, const Shape& shape, const nlohmann::json& params,
                   const DataOptions& opt) {
  DataPlan p;
  p.shape = shape;
  const auto specs = format.layout(shape.rows, shape.cols, params);  // its own complaint first
  if (static_cast<std::size_t>(shape.rows) > kMemoryCap / sizeof(float) / static_cast<std::size_t>(shape.cols))
    throw std::invalid_argument("its fp32 source alone exceeds the " + mib(kMemoryCap) + " memory limit");
  p.weight_bytes = format.stored_bytes(shape.rows, shape.cols, params);
  for (const auto& t : specs) p.copy_bytes += align_up(t.bytes());
  const auto elems = static_cast<std::size_t>(shape.rows) * static_cast<std::size_t>(shape.cols);
  const bool decode = op != Op::gemv;
  p.out_bytes = (decode ? elems : static_cast<std::size_t>(shape.rows * opt.batch)) * output_elem_bytes(op);
  const std::size_t source_bytes = elems * sizeof(float);  // fp32 input of the encoder
  if (p.copy_bytes + p.out_bytes + source_bytes > kMemoryCap)
    throw std::invalid_argument("needs " + mib(p.copy_bytes + p.out_bytes + source_bytes) +
                                " (weights, output, fp32 source), over the " + mib(kMemoryCap) + " limit");
  if (!opt.rotate) return p;
  p.weight_copies = rotation_copies(p.copy_bytes);
  // A GEMV writes `rows` floats: they stay in cache like the activation, as in real inference.
  // A dequant writes 7-8x its input, so its outputs rotate too, or it would time cache writes.
  if (decode) p.out_copies = rotation_copies(p.out_bytes);
  while (p.weight_copies * p.copy_bytes + p.out_copies * p.out_bytes > kMemoryCap) {
    if (p.weight_copies * p.copy_bytes >= p.out_copies * p.out_bytes && p.weight_copies > 1)
      --p.weight_copies;
    else
      --p.out_copies;
  }
  return p;
}

BenchData make_data(const Format& format, Op op, const Shape& shape, const nlohmann::json& params,
                    const DataOptions& opt) {
  BenchData d;
  d.plan = plan_data(format, op, shape, params, opt);
  const auto specs = format.layout(shape.rows, shape.cols, params);

  // Formats without an encoder give random valid tensors, which cost the kernels the same
  // decode work.
  const std::vector<std::vector<uint8_t>> tensors = random_tensors(format, shape.rows, shape.cols, params, kWeightSeed);
  // The copies below are laid out from layout(): the encoder has to agree with it.
  bool agrees = tensors.size() == specs.size();
  for (std::size_t i = 0; agrees && i < specs.size(); ++i) agrees = tensors[i].size() == specs[i].bytes();
  if (!agrees) throw std::logic_error(format.id + " encode_ref output does not match its layout()");
  const std::size_t copy_bytes = d.plan.copy_bytes;
  d.weight_pool = Buffer(copy_bytes * d.plan.weight_copies);
  d.weights.reserve(d.plan.weight_copies);  // the prepared views point at these
  for (std::size_t c = 0; c < d.plan.weight_copies; ++c) {
    QWeight w;
    w.format = &format;
    w.rows = shape.rows;
    w.cols = shape.cols;
    w.params = params;
    uint8_t* p = d.weight_pool.data() + c * copy_bytes;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      std::memcpy(p, tensors[i].data(), tensors[i].size());
      w.tensors.push_back({specs[i].name, specs[i].dtype, specs[i].shape, p, tensors[i].size()});
      p += align_up(tensors[i].size());
    }
    d.weights.push_back(std::move(w));
    d.prepared.push_back(std::make_unique<PreparedWeight>(d.weights.back()));
  }

  const auto x = gaussian(static_cast<std::size_t>(shape.cols * opt.batch), kActivationSeed);
  const std::size_t stride = format.activation->bytes(shape.cols);
  d.act.resize(stride * static_cast<std::size_t>(opt.batch));
  for (int i = 0; i < opt.batch; ++i)
    format.activation->quantize(x.data() + i * shape.cols, shape.cols, d.act.data() + i * stride);

  d.out_stride = align_up(d.plan.out_bytes);
  d.out_pool = Buffer(d.out_stride * d.plan.out_copies);
  std::memset(d.out_pool.data(), 0, d.out_pool.size());  // fault the pages in now, not inside a timed call
  return d;
}

}  // namespace qb::bench
