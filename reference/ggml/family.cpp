// The GGML family: every block type of the catalog (specs/ggml.md section 2), the implemented
// ones with their references, the LLaMA-7B shape suite and the upstream vector importer.
#include "fixtures/import/ggml/ggml_edge_fixtures.h"
#include "fixtures/import/ggml/ggml_vectors.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/gguf_types.h"
#include "reference/ggml/iq1_m.h"
#include "reference/ggml/iq1_s.h"
#include "reference/ggml/iq2_s.h"
#include "reference/ggml/iq2_xs.h"
#include "reference/ggml/iq2_xxs.h"
#include "reference/ggml/iq3_s.h"
#include "reference/ggml/iq3_xxs.h"
#include "reference/ggml/iq4_nl.h"
#include "reference/ggml/iq4_xs.h"
#include "reference/ggml/mxfp4.h"
#include "reference/ggml/nvfp4.h"
#include "reference/ggml/q1_0.h"
#include "reference/ggml/q2_0.h"
#include "reference/ggml/q2_K.h"
#include "reference/ggml/q3_K.h"
#include "reference/ggml/q4_0.h"
#include "reference/ggml/q4_1.h"
#include "reference/ggml/q4_K.h"
#include "reference/ggml/q5_0.h"
#include "reference/ggml/q5_1.h"
#include "reference/ggml/q5_K.h"
#include "reference/ggml/q6_K.h"
#include "reference/ggml/q8_0.h"
#include "reference/ggml/tq1_0.h"
#include "reference/ggml/tq2_0.h"

namespace qb::ggml {
namespace {

// One token of the model in shared/seeds/004_5923cb9ca39af5a0.txt (llama.cpp's Q4_0 quantize log
// of a LLaMA-7B-shaped model): 32 blocks of attn_q/k/v/output [4096, 4096], ffn_up/gate
// [4096, 11008] and ffn_down [11008, 4096] in q4_0, and output.weight [4096, 151851] kept in
// q6_K (GGUF ne = [in, out]). token_embd.weight (q4_0, [4096, 151851]) is no GEMV: a token reads
// one row of it (get_rows), so it is left out of the per-token time.
std::vector<LayerSpec> llama7b_q4_0_layers() {
  std::vector<LayerSpec> layers;
  struct Kind {
    const char* name;
    int64_t rows, cols;
  };
  static constexpr Kind kBlock[] = {{"attn_q", 4096, 4096},     {"attn_k", 4096, 4096},   {"attn_v", 4096, 4096},
                                    {"attn_output", 4096, 4096}, {"ffn_up", 11008, 4096}, {"ffn_gate", 11008, 4096},
                                    {"ffn_down", 4096, 11008}};
  for (int b = 0; b < 32; ++b)
    for (const Kind& k : kBlock)
      layers.push_back({"blk." + std::to_string(b) + "." + k.name + ".weight", "q4_0", k.rows, k.cols, nlohmann::json::object(), ""});
  layers.push_back({"output.weight", "q6_K", 151851, 4096, nlohmann::json::object(), ""});
  return layers;
}

}  // namespace

Family ggml_family() {
  Family fam;
  fam.id = "ggml";
  fam.formats = ggml_catalog();
  // Each implemented type fills its catalog entry in (reference/ggml/<type>.cpp).
  static constexpr struct {
    const char* id;
    Format (*implement)(Format);
  } kImplemented[] = {
      {"q4_0", q4_0_format},
      {"q8_0", q8_0_format},
      {"q2_K", q2_K_format},
      {"q3_K", q3_K_format},
      {"q4_K", q4_K_format},
      {"q5_K", q5_K_format},
      {"q6_K", q6_K_format},
      {"tq1_0", tq1_0_format},
      {"tq2_0", tq2_0_format},
      {"q4_1", q4_1_format},
      {"q5_0", q5_0_format},
      {"q5_1", q5_1_format},
      {"q1_0", q1_0_format},
      {"q2_0", q2_0_format},
      {"mxfp4", mxfp4_format},
      {"nvfp4", nvfp4_format},
      {"iq4_nl", iq4_nl_format},
      {"iq4_xs", iq4_xs_format},
      {"iq2_xxs", iq2_xxs_format},
      {"iq2_xs", iq2_xs_format},
      {"iq2_s", iq2_s_format},
      {"iq3_xxs", iq3_xxs_format},
      {"iq3_s", iq3_s_format},
      {"iq1_s", iq1_s_format},
      {"iq1_m", iq1_m_format},
  };
  for (Format& f : fam.formats)
    for (const auto& t : kImplemented)
      if (f.id == t.id) f = t.implement(f);
  // The GEMVs of one LLaMA-7B decoder token, from shared/seeds/004_5923cb9ca39af5a0.txt (llama.cpp
  // Q4_0 quantize log). GGML prints [ne0, ne1] = [in, out], so attn_q/k/v/output [4096, 4096] ->
  // 4096x4096, ffn_up/gate [4096, 11008] -> 11008x4096, ffn_down [11008, 4096] -> 4096x11008. The
  // log's vocabulary (151851, and a q6_K output.weight) is not LLaMA-7B's; the LM head uses 32000.
  fam.default_shapes = {{4096, 4096}, {11008, 4096}, {4096, 11008}, {32000, 4096}};
  fam.gguf_types = gguf_type_ids(fam.formats);
  fam.suites.push_back({"llama7b-q4_0", "shared/seeds/004 llama.cpp Q4_0 quantize log", llama7b_q4_0_layers});
  fam.edge_fixtures = import::ggml_edge_fixtures;
  fam.importers.push_back({"index.json with weight_types, one folder per type with manifest.json",
                           import::is_ggml_vectors, import::import_ggml_vectors});
  return fam;
}

}  // namespace qb::ggml
