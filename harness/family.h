// A family of formats as one module: everything the generic tools (verify, bench,
// import-vectors) need to know about it comes through these hooks, so no generic file names a
// family or a format. A family lives in its own folders (reference/<family>/,
// optimized/<arch>/<family>/, fixtures/import/<family>/) and registers itself with one line in
// reference/families.cpp.
#pragma once
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/fixture.h"
#include "harness/gguf.h"
#include "harness/model_dir.h"
#include "harness/registry.h"
#include "harness/shape.h"

namespace qb {

namespace import {
struct ImportReport;  // fixtures/import/import_vectors.h
}

// A weight parameter the bench sweeps: `bench --<name> a,b,c` runs every listed value.
struct BenchParam {
  std::string name;
  std::string help;
  std::vector<std::string> choices;  // allowed values; empty: any integer in [min, max]
  int64_t min = 0, max = 0;
  std::vector<std::string> defaults;  // the values a run uses when the option is not given
  // Free text (an option string, say) passed as a JSON string; the format's layout() refuses
  // a bad value, naming it.
  bool text = false;
  // The family's formats that take it (empty: all). Two entries of one name for different
  // formats share the option and keep their own defaults.
  std::vector<std::string> formats = {};
};

// Raw upstream vectors this family's importer converts into fixtures.
struct VectorImporter {
  std::string layout;  // what the README calls it, e.g. "index.json + per-type folders"
  bool (*detect)(const std::filesystem::path& dir) = nullptr;
  // Writes fixtures under `out`; reports each file written, skipped or failed.
  void (*import)(const std::filesystem::path& src, const std::filesystem::path& out,
                 import::ImportReport& report) = nullptr;
};

// A named set of layers standing for one token of a known model (`bench --suite NAME`): the
// layers a model file would declare, without the file.
struct ShapeSuite {
  std::string name;
  std::string source;  // where the shapes come from
  std::vector<LayerSpec> (*layers)() = nullptr;
};

// One choice a model-description file offers (ModelChoices below): the name it is picked by and
// the model's layers under it.
struct ModelChoice {
  std::string name;               // e.g. a converter's option string
  double bpw = 0;                 // bits per weight over all layers, as the file records it (0: not recorded)
  std::vector<LayerSpec> layers;  // every layer of the model under this choice, at its real shape
};

// A file describing one model under several quantization choices (a converter's measurement of
// every candidate option, say): `bench --<option> FILE` benches the model once per choice, each
// like `bench --model` (GEMV, m = 1, of every layer at its real shape), and tabulates bpw and the
// projected time per token. The values of the family's bench parameter `filter_param` (a text
// BenchParam) restrict the run to the choices of those names.
struct ModelChoices {
  std::string option;        // bench's option name, without "--"
  std::string help;          // for bench --help (what the file is, how long a full run takes)
  std::string filter_param;  // a bench_params name: its values pick choices by name
  // Every choice the file offers, in file order, names unique. Throws qb::FileError naming the
  // file and the field on a file it cannot read.
  std::vector<ModelChoice> (*read)(const std::string& file) = nullptr;
};

// A model container that is neither a Hugging Face directory (config.json + safetensors) nor a
// GGUF file: a converter's own directory layout (a tensor cache of records in shard files, say).
// verify and bench --model treat a directory one of these detects as one model, like a model
// directory; a container that detects a directory wins over config.json.
struct ModelContainer {
  std::string name;  // what messages and the README call it
  // Whether `dir` is this container, from its file names alone: cheap, never throws.
  bool (*detect)(const std::string& dir) = nullptr;
  // The model: every layer (formats registered, tensors viewing mapped files or the copies the
  // returned ModelDir::storage owns; data null with ModelData::headers_only), `files.files` the
  // files read. Throws FileError naming the file, the record and the field it cannot accept.
  ModelDir (*open)(const std::string& dir, ModelData data) = nullptr;
};

// An edge-case fixture a family builds (make-edge-fixtures): its path under the output folder.
struct EdgeFixture {
  std::string path;
  Fixture fixture;
};

// A GGUF dialect: the files of a fork that numbered tensor types of its own, some under ids the
// catalog gives other types. A file whose metadata the dialect claims is read with its
// types in place of the catalog's same ids (gguf_types_for below).
struct GgufDialect {
  std::string name;  // the fork, as verify and bench name it
  bool (*claims)(const GgufFile& header) = nullptr;  // the metadata is read, the tensors are not
  std::vector<GgufTypeId> types;
  // A layer's format params where its type has some (tile sizes, say, from a kernel config beside
  // the file); FileError naming the file and tensor when they cannot be found. Null: none.
  nlohmann::json (*params)(const GgufFile& file, const GgufTensor& t) = nullptr;
};

struct Family {
  std::string id;
  std::vector<Format> formats;

  // Bench: the parameters it sweeps, its default shapes (empty: the generic LLaMA-7B suite), and
  // the tag that names a parameter set in row names.
  std::vector<BenchParam> bench_params;
  std::vector<Shape> default_shapes;
  std::string (*case_tag)(const nlohmann::json& params) = nullptr;
  std::vector<ShapeSuite> suites;
  std::vector<ModelChoices> model_choices;

  std::vector<VectorImporter> importers;
  // The cases no upstream vector set holds, for fixtures/edge (make-edge-fixtures).
  std::vector<EdgeFixture> (*edge_fixtures)() = nullptr;

  // Containers: the quantization_config.quant_method values this family claims, and the
  // recognizer that turns a model directory's tensors into layers of its formats (FileError
  // naming file and field on anything it cannot accept).
  std::vector<std::string> quant_methods;
  std::vector<ModelLayer> (*recognize)(const ModelFiles& files) = nullptr;
  // Directories of the family's own layout (ModelContainer above).
  std::vector<ModelContainer> containers;
  // The layers a quantization config alone declares (shapes and params, no weights), so that
  // `bench --model CONFIG.json` needs no weight files. Null: bench opens the model's headers.
  std::vector<LayerSpec> (*config_layers)(const nlohmann::ordered_json& quant_config,
                                          const std::string& file) = nullptr;
  // GGUF files (harness/gguf.h): every tensor type id the family's GGUF files may hold, quantized
  // ones naming their registry format and unquantized ones (norms, embeddings) their element size.
  // A .gguf model is read against all families' lists at once (gguf_types() below): each tensor
  // of a quantized type is a layer of its format's family.
  std::vector<GgufTypeId> gguf_types;
  std::vector<GgufDialect> gguf_dialects;
};

const std::vector<Family>& families();
const Family* find_family(const std::string& id);
const Family& family_of(const Format& f);
// The family whose quant_methods holds `method`, or null.
const Family* family_for_method(const std::string& method);
// The first container of any family (family order) that detects `dir`, or null; `family`
// receives its family.
const ModelContainer* find_container(const std::string& dir, const Family** family = nullptr);
// The GGUF type catalog: every family's gguf_types, in family order (one file may hold tensors of
// several families). Throws std::logic_error when two families list the same type id.
const std::vector<GgufTypeId>& gguf_types();
// The first dialect (family order) that claims a GGUF file's metadata, or null; and the type list
// such a file is read with: the dialect's types over the catalog's same ids, or the catalog.
const GgufDialect* gguf_dialect_for(const GgufFile& header);
const std::vector<GgufTypeId>& gguf_types_for(const GgufFile& header);
// The suite of that name in any family, or null; known_suites() lists them all ("a, b").
const ShapeSuite* find_suite(const std::string& name);
std::string known_suites();
// "a, b, c": every method some family claims (for error messages).
std::string known_quant_methods();

// reference/families.cpp: one line per family.
std::vector<Family> make_families();

}  // namespace qb
