// The EXL2 family: one format whose params carry the group table (or an upstream option string),
// its bench sweep and shapes, the upstream vector importer and the model-directory recognizer.
#include "fixtures/import/exl2/exl2_vectors.h"
#include "reference/exl2/exl2.h"
#include "reference/exl2/measurement.h"

namespace qb::exl2 {

Family exl2_family() {
  Family fam;
  fam.id = "exl2";
  fam.formats = {exl2_format()};
  // The 4.125 bpw option and a two-width mix (2.625 bpw) of the seed measurement (003_*).
  BenchParam option{"option", "EXL2 option as upstream writes it, e.g. \"1.0:4b 32g s4\" or \"0.05:3b/0.95:2b 32g s4\"; "
                    "with --exl2-measurement, the file's options to run (default: all)",
                    {}, 0, 0, {"1.0:4b 32g s4", "0.25:4b/0.75:2b 32g s4"}};
  option.text = true;
  fam.bench_params = {option};
  // Llama-2-70B's square projections and its MLP (the seed measurement's model, specs/exl2.md 10).
  fam.default_shapes = {{8192, 8192}, {28672, 8192}};
  fam.case_tag = [](const nlohmann::json& params) {
    if (!params.contains("option")) return std::string("groups");
    std::string tag = params["option"].get<std::string>();
    for (char& c : tag)
      if (c == ' ') c = '_';
    return tag;
  };
  // A 2023 measurement.json (reference/exl2/measurement.h) as the model under each option it lists.
  fam.model_choices.push_back(
      {"exl2-measurement",
       "a 2023 exllamav2 measurement.json: GEMV (m=1) of every measured layer at its inferred Llama shape, "
       "the model built with each option the file lists (or only --option's, repeatable), and one table of "
       "bpw, GB/s and projected time per token per option; all 24 options of the Llama-2-70B seed take about "
       "3 minutes on 2 cores (--benchmark_filter=-_ref/ leaves the scalar reference out: 20% less)",
       "option", measurement_choices_of_file});
  fam.importers.push_back({"one folder per case with manifest.json (q_weight.bin, q_scale.bin, ..., weight_dq.bin)",
                           import::is_exl2_vectors, import::import_exl2_vectors});
  fam.quant_methods = {"exl2"};
  fam.recognize = recognize_model;
  return fam;
}

}  // namespace qb::exl2
