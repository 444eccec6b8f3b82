// The EXL3 family: one format with params {bits, codebook}, its bench sweep and shapes, the
// upstream vector importer and the model-directory recognizer.
#include "fixtures/import/exl3/exl3_edge_fixtures.h"
#include "fixtures/import/exl3/exl3_vectors.h"
#include "reference/exl3/exl3.h"

namespace qb::exl3 {

Family exl3_family() {
  Family fam;
  fam.id = "exl3";
  fam.formats = {exl3_format()};
  fam.bench_params = {{"bits", "EXL3 bits per weight K, e.g. 4 or 2,3,4,8", {}, 1, 8, {"4"}},
                      {"codebook", "EXL3 codebook", {"3inst", "mcg", "mul1"}, 0, 0, {"mcg"}}};
  // Decode dominates at m = 1, so the defaults are the seed model's shapes (000_12bb0b0cfee13881:
  // up/gate 6144x2048, down 2048x6144) plus a square 4096x4096.
  fam.default_shapes = {{4096, 4096}, {6144, 2048}, {2048, 6144}};
  fam.case_tag = [](const nlohmann::json& params) {
    return "K" + params.at("bits").dump() + "-" + params.at("codebook").get<std::string>();
  };
  fam.edge_fixtures = import::exl3_edge_fixtures;
  fam.importers.push_back({"one folder per case with manifest.json (trellis.bin, suh.bin, svh.bin, w_hat.bin)",
                           import::is_exl3_vectors, import::import_exl3_vectors});
  fam.quant_methods = {"exl3"};
  fam.recognize = recognize_model;
  fam.config_layers = config_layers;
  return fam;
}

}  // namespace qb::exl3
