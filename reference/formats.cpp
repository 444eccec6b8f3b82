// The list of formats: every GGML type with its geometry (so fixtures of types not implemented
// yet are still validated and reported as skipped), with the implemented ones filled in.
#include "harness/registry.h"
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
  return all;
}

}  // namespace qb
