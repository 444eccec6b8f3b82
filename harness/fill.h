// Test and bench inputs, owned by the harness: random weights made by each format's reference
// encoder, planted special scales, and deliberately misaligned storage.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "harness/qweight.h"
#include "harness/registry.h"

namespace qb {

// A quantized weight that owns its bytes; each tensor starts `misalign` bytes past a 64-byte
// boundary so kernels meet unaligned rows.
class OwnedWeight {
 public:
  OwnedWeight(const Format& f, int64_t rows, int64_t cols, const nlohmann::json& params,
              const std::vector<std::vector<uint8_t>>& tensors, std::size_t misalign = 0);
  OwnedWeight(const OwnedWeight&) = delete;  // the view points into the buffers
  OwnedWeight(OwnedWeight&&) = default;
  const QWeight& view() const { return view_; }
  uint8_t* tensor_data(std::size_t i) { return const_cast<uint8_t*>(view_.tensors[i].data); }

 private:
  std::vector<std::vector<uint8_t>> buffers_;
  QWeight view_;
};

std::vector<float> gaussian(std::size_t n, uint64_t seed, float sigma = 1.0f);

// Stored tensors (layout order) of gaussian values encoded by the format's reference encoder,
// or, for formats without one, the format's random valid tensors (Format::random_stored).
std::vector<std::vector<uint8_t>> random_tensors(const Format& f, int64_t rows, int64_t cols,
                                                 const nlohmann::json& params, uint64_t seed);
OwnedWeight random_weight(const Format& f, int64_t rows, int64_t cols, uint64_t seed, std::size_t misalign = 0,
                          const nlohmann::json& params = nlohmann::json::object());

// Overwrites fp16 scale fields (Format::fp16_scale_offsets of rows/2 random blocks, one in 16
// elements of Format::fp16_scale_tensors) with NaN (several payloads, both signs), +-Inf,
// subnormals and +-0, so decoders meet every special class. `only_tensor`: plant in that scale tensor alone (a NaN in
// a scale that every output meets would hide the format's other scale tensors, so each is also tried on its own).
void plant_special_scales(OwnedWeight& w, uint64_t seed, const std::string& only_tensor = "");
// Block formats: one block in five gets every byte outside its scale fields set to one extreme
// pattern (0x00, 0xFF, 0x80, 0x7F, 0x0F, 0xF0, 0x88): codes an encoder never writes, such as
// an int8 code of -128, which any stored file may hold.
void plant_extreme_codes(OwnedWeight& w, uint64_t seed);
// One scale field of each of m activation vectors of `cols` gets a special value; vector i gets
// class i, so vector 0 a subnormal, vector 1 a NaN, vector 2 -0, vector 3 +Inf, ... (a NaN
// activation scale makes every output of its vector NaN). No-op for fp32 x.
// `extreme_codes`: besides, about one block in four of each vector (at least one holding -128,
// other than the special-scale block where there are two) gets every byte outside its scale
// fields set to one pattern: int8 -128 (which upstream's x86 quantizer emits for NaN and overflowing levels, and a
// sign trick cannot negate), 127, -1, alternating -128/127, or -128/-128/127/127 (the pairs a
// vpmaddubsw would sum). Kernels then meet the whole int8 range of the activation, under the
// vector's own finite scales. Off only where bytes made before it must stay the same.
void plant_special_activation_scales(const ActivationFormat& a, uint8_t* act, int64_t cols, int64_t m, uint64_t seed,
                                     bool extreme_codes = true);

// The activation bytes for the x.size()/cols vectors in x (the format's GEMV input, back to
// back), `misalign` bytes off alignment.
struct OwnedActivation {
  std::vector<uint8_t> buffer;
  std::size_t offset = 0;
  const uint8_t* data() const { return buffer.data() + offset; }
};
OwnedActivation quantize_activation(const Format& f, const std::vector<float>& x, int64_t cols, std::size_t misalign = 0);

}  // namespace qb
