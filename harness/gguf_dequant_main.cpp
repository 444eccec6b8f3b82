// build/bin/gguf-dequant: our side of the gguf-py oracle (tests/gguf_oracle.py).
//   gguf-dequant --types           the GGUF type ids every family lists, as JSON: id, name,
//                                  format, block geometry, fp16 scale offsets, implemented
//   gguf-dequant FILE.gguf OUT     reads FILE with harness/gguf.h and writes, for every tensor
//                                  of an implemented format, the reference decode as raw fp32
//                                  (OUT/<tensor name>.f32.bin, [rows][cols]); prints one line
//                                  per tensor: "<name> <type> decoded|unquantized|not implemented"
// Exit 1 with the FileError on a file the reader refuses.
#include <filesystem>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "harness/family.h"
#include "harness/model_dir.h"
#include "harness/prepared.h"

int main(int argc, char** argv) {
  CLI::App app{"quantbench gguf-dequant: the reference decode of every tensor of a GGUF file, as raw fp32"};
  std::string file, out;
  bool types = false;
  app.add_flag("--types", types, "print the GGUF type ids as JSON and exit");
  app.add_option("file", file, "GGUF file");
  app.add_option("out", out, "output folder");
  CLI11_PARSE(app, argc, argv);
  const std::vector<qb::GgufTypeId>& catalog = qb::gguf_types();
  if (catalog.empty()) {
    std::cerr << "gguf-dequant: no registered family lists GGUF types\n";
    return 2;
  }
  if (types) {
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (const qb::GgufTypeId& t : catalog) {
      const qb::Format* f = t.format.empty() ? nullptr : qb::find_format(t.format);
      j.push_back({{"id", t.id}, {"name", t.name}, {"format", t.format}, {"block_elems", t.block_elems},
                   {"block_bytes", t.block_bytes},
                   {"fp16_scale_offsets", f ? f->fp16_scale_offsets : std::vector<int64_t>{}},
                   {"implemented", f && f->implemented()}});
    }
    std::cout << j.dump(1) << "\n";
    return 0;
  }
  if (file.empty() || out.empty()) {
    std::cerr << "gguf-dequant: give FILE.gguf and OUT (or --types)\n";
    return 2;
  }
  try {
    const qb::ModelDir m = qb::open_model_dir(file, qb::ModelData::mapped);
    std::filesystem::create_directories(out);
    for (const qb::GgufTensor& t : m.gguf->tensors) {
      const qb::Format* f = t.type->format.empty() ? nullptr : qb::find_format(t.type->format);
      if (!f) {
        std::cout << t.name << " " << t.type->name << " unquantized\n";
        continue;
      }
      if (!f->implemented()) {
        std::cout << t.name << " " << t.type->name << " not implemented\n";
        continue;
      }
      const qb::ModelLayer* layer = nullptr;
      for (const qb::ModelLayer& l : m.layers)
        if (l.spec.name == t.name) layer = &l;
      const qb::QWeight& w = layer->weight;
      std::vector<float> y(static_cast<std::size_t>(w.rows * w.cols));
      f->dequant_ref(qb::PreparedWeight(w).get(), 0, qb::call_extent(*f, w.rows), y.data());
      const std::string path = (std::filesystem::path(out) / (t.name + ".f32.bin")).string();
      std::ofstream o(path, std::ios::binary | std::ios::trunc);
      o.write(reinterpret_cast<const char*>(y.data()), static_cast<std::streamsize>(y.size() * sizeof(float)));
      if (!o) throw qb::FileError(path, "", "write failed");
      std::cout << t.name << " " << t.type->name << " decoded\n";
    }
  } catch (const qb::FileError& e) {
    std::cerr << "gguf-dequant: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
