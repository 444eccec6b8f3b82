#include "reference/ggml/gguf_types.h"

#include <stdexcept>

namespace qb::ggml {

std::vector<GgufTypeId> gguf_type_ids(const std::vector<Format>& formats) {
  struct Id {
    uint32_t id;
    const char* name;
  };
  static constexpr Id kQuantized[] = {
      {2, "q4_0"},     {3, "q4_1"},    {6, "q5_0"},    {7, "q5_1"},    {8, "q8_0"},     {10, "q2_K"},
      {11, "q3_K"},    {12, "q4_K"},   {13, "q5_K"},   {14, "q6_K"},   {16, "iq2_xxs"}, {17, "iq2_xs"},
      {18, "iq3_xxs"}, {19, "iq1_s"},  {20, "iq4_nl"}, {21, "iq3_s"},  {22, "iq2_s"},   {23, "iq4_xs"},
      {29, "iq1_m"},   {34, "tq1_0"},  {35, "tq2_0"},  {39, "mxfp4"},  {40, "nvfp4"},   {41, "q1_0"},
      {42, "q2_0"},
  };
  struct Plain {
    uint32_t id;
    const char* name;
    int64_t bytes;
  };
  static constexpr Plain kUnquantized[] = {
      {0, "f32", 4}, {1, "f16", 2}, {24, "i8", 1}, {25, "i16", 2}, {26, "i32", 4}, {27, "i64", 8}, {28, "f64", 8}, {30, "bf16", 2},
  };
  std::vector<GgufTypeId> out;
  for (const Id& q : kQuantized) {
    const Format* f = nullptr;
    for (const Format& c : formats)
      if (c.id == q.name) f = &c;
    if (!f) throw std::logic_error(std::string("GGUF type ") + q.name + " is not in the GGML catalog");
    out.push_back(gguf_type(q.id, q.name, q.name, f->block_elems, f->block_bytes));
  }
  for (const Plain& p : kUnquantized) out.push_back(gguf_type(p.id, p.name, "", 1, p.bytes));
  return out;
}

}  // namespace qb::ggml
