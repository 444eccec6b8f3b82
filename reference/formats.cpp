// The list of formats: every GGML type with its geometry (so fixtures of types not implemented
// yet are still validated and reported as skipped), with the implemented ones filled in, and EXL3.
#include "harness/registry.h"
#include "harness/exl3_random.h"
#include "reference/exl3/exl3.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/q4_0.h"
#include "reference/ggml/q8_0.h"

namespace qb {

std::vector<Format> make_formats() {
  std::vector<Format> all = ggml::ggml_catalog();
  for (Format& f : all) {
    if (f.id == "q4_0") f = ggml::q4_0_format(f);
    if (f.id == "q8_0") f = ggml::q8_0_format(f);
  }
  Format exl3 = exl3::exl3_format();
  exl3.random_stored = random_trellis_tensors;
  // Every trellis width with every codebook: each K has its own bit-window arithmetic.
  exl3.test_params.clear();
  for (int bits = 1; bits <= 8; ++bits)
    for (const char* cb : {"3inst", "mcg", "mul1"}) exl3.test_params.push_back({{"bits", bits}, {"codebook", cb}});
  all.push_back(std::move(exl3));
  return all;
}

}  // namespace qb
