// The families, one line each. A family brings its formats, fills, bench parameters and
// shapes, vector importers and model-directory recognizers (harness/family.h).
#include "harness/family.h"
#include "reference/bitnet/bitnet.h"
#include "reference/exl2/exl2.h"
#include "reference/exl3/exl3.h"
#include "reference/ggml/ggml_format.h"
#include "reference/mlc/mlc.h"

namespace qb {

std::vector<Family> make_families() {
  return {
      ggml::ggml_family(),
      exl2::exl2_family(),
      exl3::exl3_family(),
      mlc::mlc_family(),
      bitnet::bitnet_family(),
  };
}

}  // namespace qb
