// The MLC-LLM family: one format per group preset, its bench shapes and the upstream vector
// importer.
#include "fixtures/import/mlc/mlc_vectors.h"
#include "reference/mlc/mlc.h"

namespace qb::mlc {

Family mlc_family() {
  Family fam;
  fam.id = "mlc";
  fam.formats = mlc_formats();
  // Llama-2-7B's square projections and its MLP down/up shapes (what the targets name).
  fam.default_shapes = {{4096, 4096}, {11008, 4096}, {4096, 11008}};
  fam.importers.push_back({"one folder per case with manifest.json (\"format\": \"mlc_group_quant/<preset>\"; weight.bin, "
                           "te_q_weight.bin, ..., oracle_decoded.bin, or q_weight.bin, q_scale.bin, decoded.bin)",
                           import::is_mlc_vectors, import::import_mlc_vectors});
  return fam;
}

}  // namespace qb::mlc
