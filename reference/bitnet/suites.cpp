// BitNet shape suite (bench --suite bitnet-2b4t): the linear layers of one token of BitNet b1.58
// 2B-4T as its checkpoint stores them (../shared/seeds/002: 30 layers, hidden 2560, intermediate
// 6912, 20 heads / 5 KV heads of 128). The tied bf16 embedding is a lookup and the output
// projection is bf16, not ternary: neither is a BitNet GEMV.
#include "reference/bitnet/bitnet.h"

namespace qb::bitnet {

std::vector<LayerSpec> bitnet_2b4t_layers() {
  constexpr int64_t kLayers = 30, kHidden = 2560, kKv = 640, kInter = 6912;
  const struct {
    const char* name;
    int64_t rows, cols;
  } kinds[] = {{"self_attn.q_proj", kHidden, kHidden}, {"self_attn.k_proj", kKv, kHidden},
               {"self_attn.v_proj", kKv, kHidden},     {"self_attn.o_proj", kHidden, kHidden},
               {"mlp.gate_proj", kInter, kHidden},     {"mlp.up_proj", kInter, kHidden},
               {"mlp.down_proj", kHidden, kInter}};
  std::vector<LayerSpec> out;
  for (int64_t l = 0; l < kLayers; ++l)
    for (const auto& k : kinds)
      out.push_back({"model.layers." + std::to_string(l) + "." + k.name, "bitnet_hf", k.rows, k.cols,
                     nlohmann::json::object(), ""});
  return out;
}

}  // namespace qb::bitnet
