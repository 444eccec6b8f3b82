#include "harness/fixture.h"

#include <algorithm>

#include "harness/shape.h"
#include "harness/stored_check.h"

namespace qb {
namespace {

using nlohmann::json;

const std::string& required_meta(const std::string& path, const SafetensorsFile& f, const std::string& key) {
  const auto it = f.metadata.find(key);
  if (it == f.metadata.end() || it->second.empty())
    throw FileError(path, "__metadata__." + key, "missing (required by the fixture contract)");
  return it->second;
}

json parse_meta_json(const std::string& path, const std::string& key, const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw FileError(path, "__metadata__." + key, "not valid JSON: " + std::string(e.what()));
  }
}

void expect_tensor(const std::string& path, const OwnedTensor& t, std::initializer_list<DType> dtypes,
                   const std::vector<int64_t>& shape) {
  if (std::find(dtypes.begin(), dtypes.end(), t.dtype) == dtypes.end()) {
    std::string want;
    for (DType d : dtypes) want += (want.empty() ? "" : " or ") + std::string(dtype_name(d));
    throw FileError(path, "tensors." + t.name + ".dtype",
                    "is " + std::string(dtype_name(t.dtype)) + ", expected " + want);
  }
  if (t.shape != shape)
    throw FileError(path, "tensors." + t.name + ".shape",
                    "is " + shape_str(t.shape) + ", expected " + shape_str(shape));
}

// GEMV expectations are one vector ([cols]) or a small batch ([m, cols]); x, x_q and y agree on m.
std::vector<int64_t> batch_shape(const OwnedTensor& t, int64_t len) {
  return t.shape.size() == 2 ? std::vector<int64_t>{t.shape[0], len} : std::vector<int64_t>{len};
}

void check_expectation(const std::string& path, const Fixture& fx, const OwnedTensor& t, std::size_t stored) {
  const std::string& n = t.name;
  if (n == "source") expect_tensor(path, t, {DType::F32}, {fx.rows, fx.cols});
  if (n == "expect.dequant" || n == "expect.inner") expect_tensor(path, t, {DType::F32, DType::F16}, {fx.rows, fx.cols});
  if (n == "expect.x") expect_tensor(path, t, {DType::F32}, batch_shape(t, fx.cols));
  if (n == "expect.y") expect_tensor(path, t, {DType::F32}, batch_shape(t, fx.rows));
  if (n == "expect.encode" || n == "expect.encode_mask") expect_tensor(path, t, {DType::U8}, {static_cast<int64_t>(stored)});
  if (n == "expect.encode_mask")
    if (auto bad = std::find_if(t.bytes.begin(), t.bytes.end(), [](uint8_t b) { return b > 1; }); bad != t.bytes.end())
      throw FileError(path, "tensors.expect.encode_mask", "byte " + std::to_string(bad - t.bytes.begin()) + " is " +
                                                              std::to_string(*bad) + ", expected 0 (undefined) or 1 (compared)");
  if ((n == "expect.x" || n == "expect.x_q" || n == "expect.y") && t.shape.size() == 2 && t.shape[0] == 0)
    throw FileError(path, "tensors." + n + ".shape", "is " + shape_str(t.shape) + ": a batch of 0 vectors checks nothing");
  if (n == "expect.x_q") {
    if (!fx.format->activation)
      throw FileError(path, "tensors.expect.x_q", "format " + fx.format_id + " takes no quantized activation");
    expect_tensor(path, t, {DType::U8}, batch_shape(t, static_cast<int64_t>(fx.format->activation->bytes(fx.cols))));
  }
}

}  // namespace

const OwnedTensor* Fixture::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

QWeight Fixture::all_tensors() const {
  QWeight w;
  w.format = format;
  w.rows = rows;
  w.cols = cols;
  w.params = params;
  for (const OwnedTensor& t : tensors) w.tensors.push_back({t.name, t.dtype, t.shape, t.bytes.data(), t.bytes.size()});
  return w;
}

QWeight Fixture::weight() const {
  const QWeight all = all_tensors();
  QWeight w = all;
  w.tensors.clear();
  for (const auto& spec : format->layout(rows, cols, params)) w.tensors.push_back(all.tensor(spec.name));
  return w;
}

Fixture load_fixture(const std::string& path) {
  SafetensorsFile file = read_safetensors(path);
  Fixture fx;
  fx.path = path;
  fx.format_id = required_meta(path, file, "format");
  fx.format = find_format(fx.format_id);
  if (!fx.format) {
    std::string known;
    for (const auto& f : formats()) known += (known.empty() ? "" : " ") + f.id;
    throw FileError(path, "__metadata__.format", "unknown format '" + fx.format_id + "' (known: " + known + ")");
  }
  const json shape = parse_meta_json(path, "shape", required_meta(path, file, "shape"));
  if (!shape.is_array() || shape.size() != 2 || !shape[0].is_number_integer() || !shape[1].is_number_integer() ||
      shape[0].get<int64_t>() <= 0 || shape[1].get<int64_t>() <= 0)
    throw FileError(path, "__metadata__.shape", "must be [rows, cols] of positive integers, got " + shape.dump());
  fx.rows = shape[0].get<int64_t>();
  fx.cols = shape[1].get<int64_t>();
  if (auto it = file.metadata.find("params"); it != file.metadata.end()) {
    fx.params = parse_meta_json(path, "params", it->second);
    if (!fx.params.is_object()) throw FileError(path, "__metadata__.params", "must be a JSON object");
  }
  fx.origin = required_meta(path, file, "origin");
  if (auto it = file.metadata.find("description"); it != file.metadata.end()) fx.description = it->second;

  fx.tensors = std::move(file.tensors);
  try {
    check_stored(fx.all_tensors());
  } catch (const StoredTensorError& e) {
    throw FileError(path, e.tensor().empty() ? "__metadata__.shape" : e.field_path("tensors."), e.what());
  }
  const std::vector<StoredTensorSpec> layout = fx.format->layout(fx.rows, fx.cols, fx.params);
  const std::size_t stored = fx.format->stored_bytes(fx.rows, fx.cols, fx.params);
  for (const auto& t : fx.tensors) {
    const bool is_stored = std::any_of(layout.begin(), layout.end(), [&](const auto& s) { return s.name == t.name; });
    const bool is_expectation = std::any_of(std::begin(kExpectationNames), std::end(kExpectationNames),
                                            [&](const char* n) { return t.name == n; });
    if (!is_stored && !is_expectation)
      throw FileError(path, "tensors." + t.name, "not a stored tensor of " + fx.format_id + " nor a contract name");
    if (is_expectation) check_expectation(path, fx, t, stored);
  }
  const OwnedTensor* y = fx.find("expect.y");
  if (y && !fx.find("expect.x") && !fx.find("expect.x_q"))
    throw FileError(path, "tensors.expect.y", "present without expect.x or expect.x_q");
  for (const char* name : {"expect.x", "expect.x_q"})
    if (fx.find(name) && !y) throw FileError(path, std::string("tensors.") + name, "present without expect.y: nothing to compare");
  if (fx.find("expect.encode") && !fx.find("source"))
    throw FileError(path, "tensors.expect.encode", "present without source: nothing to encode");
  if (fx.find("expect.encode_mask") && !fx.find("expect.encode"))
    throw FileError(path, "tensors.expect.encode_mask", "present without expect.encode: nothing to mask");
  // A fixture is its expectations: stored tensors alone would make verify compare nothing.
  if (!y && !fx.find("expect.dequant") && !fx.find("expect.inner") && !fx.find("expect.encode"))
    throw FileError(path, "tensors", "no expectation (expect.dequant, expect.inner, expect.y or expect.encode): nothing to check");
  for (const char* name : {"expect.x", "expect.x_q"})
    if (const OwnedTensor* x = fx.find(name); x && y && x->numel() / x->shape.back() != y->numel() / y->shape.back())
      throw FileError(path, std::string("tensors.") + name + ".shape", "batch size differs from expect.y");
  return fx;
}

void save_fixture(const std::string& path, const Fixture& fx) {
  SafetensorsFile file;
  file.metadata["format"] = fx.format_id;
  file.metadata["shape"] = json::array({fx.rows, fx.cols}).dump();
  file.metadata["params"] = fx.params.dump();
  file.metadata["origin"] = fx.origin;
  if (!fx.description.empty()) file.metadata["description"] = fx.description;
  file.tensors = fx.tensors;
  write_safetensors(path, file);
}

}  // namespace qb
