// The MLC-LLM family: one format per group preset, its bench shapes and suites, the upstream
// vector importer and the tensor-cache container.
#include "fixtures/import/mlc/mlc_vectors.h"
#include "reference/mlc/mlc.h"
#include "reference/mlc/tensor_cache.h"

namespace qb::mlc {

Family mlc_family() {
  Family fam;
  fam.id = "mlc";
  fam.formats = mlc_formats();
  // Llama-2-7B's square projections and its MLP down/up shapes (what the targets name).
  fam.default_shapes = {{4096, 4096}, {11008, 4096}, {4096, 11008}};
  fam.suites.push_back({"mlc-seed-q4f32_1", "shared/seeds/001 ndarray-cache.json (q4f32_1, 6 layers, hidden 768)", seed_cache_layers});
  fam.suites.push_back({"llama2-7b-q4f16_1", "Llama-2-7B's linear layers as mlc_llm fuses them", llama2_7b_q4f16_1_layers});
  fam.importers.push_back({"one folder per case with manifest.json (\"format\": \"mlc_group_quant/<preset>\"; weight.bin, "
                           "te_q_weight.bin, ..., oracle_decoded.bin, or q_weight.bin, q_scale.bin, decoded.bin)",
                           import::is_mlc_vectors, import::import_mlc_vectors});
  fam.containers.push_back({"MLC tensor cache (tensor-cache.json or ndarray-cache.json, params_shard_*.bin, mlc-chat-config.json)",
                            is_tensor_cache_dir, open_tensor_cache});
  return fam;
}

}  // namespace qb::mlc
