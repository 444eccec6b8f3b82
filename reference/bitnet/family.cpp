// The BitNet b1.58 family: HF packed, I2_S (x86 and ARM layouts), TL1, TL2 and the GPU int2
// layout, its bench shapes and the 2B-4T suite.
#include "fixtures/import/bitnet/bitnet_edge_fixtures.h"
#include "fixtures/import/bitnet/bitnet_vectors.h"
#include "reference/bitnet/bitnet.h"

namespace qb::bitnet {

Family bitnet_family() {
  Family fam;
  fam.id = "bitnet";
  fam.formats = bitnet_formats();
  // BitNet b1.58 2B-4T's square, MLP up and MLP down shapes (what the targets name).
  fam.default_shapes = {{2560, 2560}, {6912, 2560}, {2560, 6912}};
  // The HF rule, and a TL tile set valid at every default shape (upstream's codegen picks one per
  // shape; a TL weight is only meaningful with its own).
  fam.bench_params = {
      {"scale_rule", "HF weight_scale rule", {"multiply", "divide"}, 0, 0, {"multiply"}, false, {"bitnet_hf"}},
      {"BM", "TL1/TL2 kernel config BM (rows per tile)", {}, 32, 4096, {"128"}, false, {"bitnet_tl1", "bitnet_tl2"}},
      {"BK", "TL1/TL2 kernel config BK (columns per tile)", {}, 24, 4096, {"128"}, false, {"bitnet_tl1"}},
      {"BK", "", {}, 24, 4096, {"192"}, false, {"bitnet_tl2"}},
      {"bm", "TL1 kernel config bm (32 or 64)", {}, 32, 64, {"32"}, false, {"bitnet_tl1"}},
  };
  fam.case_tag = [](const nlohmann::json& params) {
    std::string tag;
    for (const auto& [key, value] : params.items())
      tag += (tag.empty() ? "" : "-") + key + (value.is_string() ? value.get<std::string>() : value.dump());
    return tag;
  };
  fam.suites.push_back({"bitnet-2b4t", "shared/seeds/002 BitNet b1.58 2B-4T tensor list (30 layers, hidden 2560, intermediate 6912)",
                        bitnet_2b4t_layers});
  fam.importers.push_back({"one folder per case with manifest.json (\"format\": hf_bitnet_packed_u8, gguf_i2_s, gguf_tl1, gguf_tl2 or "
                           "bitnet_gpu_int2; packed.bin, i2s_x86.bin, tl1_packed.bin, ..., ternary.bin)",
                           import::is_bitnet_vectors, import::import_bitnet_vectors});
  fam.edge_fixtures = import::bitnet_edge_fixtures;
  // Hugging Face checkpoints (reference/bitnet/model.cpp): packed U8 + weight_scale layers.
  fam.quant_methods = {"bitnet"};
  fam.recognize = recognize_model;
  fam.config_layers = config_layers;
  fam.gguf_dialects = {gguf_dialect()};
  return fam;
}

}  // namespace qb::bitnet
