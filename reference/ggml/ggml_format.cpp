#include "reference/ggml/ggml_format.h"

#include <stdexcept>
#include <utility>

namespace qb::ggml {

Format block_format(std::string id, int64_t block_elems, int64_t block_bytes) {
  Format f;
  f.id = std::move(id);
  f.family = "ggml";
  f.block_elems = block_elems;
  f.block_bytes = block_bytes;
  f.layout = [id = f.id, block_elems, block_bytes](int64_t rows, int64_t cols, const nlohmann::json&) {
    if (rows <= 0) throw std::invalid_argument("rows must be positive, got " + std::to_string(rows));
    if (cols <= 0 || cols % block_elems != 0)
      throw std::invalid_argument(id + " needs cols to be a positive multiple of " +
                                  std::to_string(block_elems) + ", got " + std::to_string(cols));
    return std::vector<StoredTensorSpec>{{"blocks", DType::U8, {rows, cols / block_elems * block_bytes}}};
  };
  return f;
}

std::vector<Format> ggml_catalog() {
  struct Geometry {
    const char* id;
    int64_t qk, bytes;
  };
  static constexpr Geometry kTypes[] = {
      {"q4_0", 32, 18},     {"q4_1", 32, 20},    {"q5_0", 32, 22},   {"q5_1", 32, 24},
      {"q8_0", 32, 34},     {"q2_K", 256, 84},   {"q3_K", 256, 110}, {"q4_K", 256, 144},
      {"q5_K", 256, 176},   {"q6_K", 256, 210},  {"iq2_xxs", 256, 66}, {"iq2_xs", 256, 74},
      {"iq3_xxs", 256, 98}, {"iq1_s", 256, 50},  {"iq4_nl", 32, 18}, {"iq3_s", 256, 110},
      {"iq2_s", 256, 82},   {"iq4_xs", 256, 136}, {"iq1_m", 256, 56}, {"tq1_0", 256, 54},
      {"tq2_0", 256, 66},   {"mxfp4", 32, 17},   {"nvfp4", 64, 36},  {"q1_0", 128, 18},
      {"q2_0", 64, 18},
  };
  std::vector<Format> out;
  for (const auto& t : kTypes) out.push_back(block_format(t.id, t.qk, t.bytes));
  return out;
}

}  // namespace qb::ggml
