// safetensors container: 8-byte LE header length, JSON header, raw LE tensor data.
// The reader is strict: every error names the file and the header field it concerns.
#pragma once
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/dtype.h"

namespace qb {

class FileError : public std::runtime_error {
 public:
  FileError(std::string file, std::string field, const std::string& message)
      : std::runtime_error(file + ": " + (field.empty() ? "" : "field '" + field + "': ") + message),
        file_(std::move(file)),
        field_(std::move(field)) {}
  const std::string& file() const { return file_; }
  const std::string& field() const { return field_; }

 private:
  std::string file_, field_;
};

struct OwnedTensor {
  std::string name;
  DType dtype = DType::U8;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  int64_t numel() const;
  template <typename T>
  const T* as() const { return reinterpret_cast<const T*>(bytes.data()); }
};

struct SafetensorsFile {
  std::map<std::string, std::string> metadata;
  std::vector<OwnedTensor> tensors;  // in file order

  const OwnedTensor* find(const std::string& name) const;
};

// Where one tensor lies in a file, from the header alone.
struct TensorEntry {
  std::string name;
  DType dtype = DType::U8;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // from the start of the data section
  uint64_t nbytes = 0;
};
struct SafetensorsHeader {
  std::map<std::string, std::string> metadata;
  std::vector<TensorEntry> tensors;  // in file order
  uint64_t data_begin = 0;           // file offset of the data section
};

SafetensorsFile read_safetensors(const std::string& path);
// The same checks as read_safetensors (offsets against the file's size included) without
// reading the data: checkpoints of many GiB are listed in milliseconds.
SafetensorsHeader read_safetensors_header(const std::string& path);
void write_safetensors(const std::string& path, const SafetensorsFile& file);

}  // namespace qb
