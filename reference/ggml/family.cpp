// The GGML family: every block type of the catalog (specs/ggml.md section 2), the implemented
// ones with their references, the LLaMA-7B shape suite and the upstream vector importer.
#include "fixtures/import/ggml/ggml_vectors.h"
#include "reference/ggml/ggml_format.h"
#include "reference/ggml/gguf_types.h"
#include "reference/ggml/q4_0.h"
#include "reference/ggml/q8_0.h"

namespace qb::ggml {

Family ggml_family() {
  Family fam;
  fam.id = "ggml";
  fam.formats = ggml_catalog();
  for (Format& f : fam.formats) {
    if (f.id == "q4_0") f = q4_0_format(f);
    if (f.id == "q8_0") f = q8_0_format(f);
  }
  // The GEMVs of one LLaMA-7B decoder token, from shared/seeds/004_5923cb9ca39af5a0.txt (llama.cpp
  // Q4_0 quantize log). GGML prints [ne0, ne1] = [in, out], so attn_q/k/v/output [4096, 4096] ->
  // 4096x4096, ffn_up/gate [4096, 11008] -> 11008x4096, ffn_down [11008, 4096] -> 4096x11008. The
  // log's vocabulary (151851, and a q6_K output.weight) is not LLaMA-7B's; the LM head uses 32000.
  fam.default_shapes = {{4096, 4096}, {11008, 4096}, {4096, 11008}, {32000, 4096}};
  fam.gguf_types = gguf_type_ids(fam.formats);
  fam.importers.push_back({"index.json with weight_types, one folder per type with manifest.json",
                           import::is_ggml_vectors, import::import_ggml_vectors});
  return fam;
}

}  // namespace qb::ggml
