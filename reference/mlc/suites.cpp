// MLC shape suites (bench --suite NAME): the linear layers one token multiplies, as
// mlc_llm convert_weight names and fuses them (qkv_proj = q|k|v, gate_up_proj = gate|up:
// specs/mlc.md 2.1). Embedding tables are row lookups, not GEMVs, and are left out.
#include "reference/mlc/mlc.h"

namespace qb::mlc {

namespace {

struct Model {
  int64_t layers, hidden, qkv, intermediate, vocab;
};

std::vector<LayerSpec> llama_layers(const Model& m, const std::string& format) {
  const struct {
    const char* name;
    int64_t rows, cols;
  } kinds[] = {{"self_attn.qkv_proj", m.qkv, m.hidden},
               {"self_attn.o_proj", m.hidden, m.hidden},
               {"mlp.gate_up_proj", 2 * m.intermediate, m.hidden},
               {"mlp.down_proj", m.hidden, m.intermediate}};
  std::vector<LayerSpec> out;
  for (int64_t l = 0; l < m.layers; ++l)
    for (const auto& k : kinds)
      out.push_back({"model.layers." + std::to_string(l) + "." + k.name, format, k.rows, k.cols, nlohmann::json::object(), ""});
  out.push_back({"lm_head", format, m.vocab, m.hidden, nlohmann::json::object(), ""});
  return out;
}

}  // namespace

// ../shared/seeds/001: a q4f32_1 ndarray-cache.json of 6 layers, hidden 768 (qkv 768 + 2 x 256),
// intermediate 3072, vocab 32128, untied lm_head (specs/mlc.md 4.2).
std::vector<LayerSpec> seed_cache_layers() { return llama_layers({6, 768, 1280, 3072, 32128}, "mlc_q4f32_1"); }

// Llama-2-7B as MLC's most used preset packs it (the shapes the targets name).
std::vector<LayerSpec> llama2_7b_q4f16_1_layers() { return llama_layers({32, 4096, 3 * 4096, 11008, 32000}, "mlc_q4f16_1"); }

}  // namespace qb::mlc
