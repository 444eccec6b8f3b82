// safetensors container: 8-byte LE header length, JSON header, raw LE tensor data.
// The reader is strict: every error names the file and the header field it concerns. The header
// is read exactly as the format defines it (begins with '{', only 0x20 padding after the object,
// UTF-8, unique keys at every depth, __metadata__ strings only) so that no file means one thing
// here and another to the reference loader.
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
  FileError(const std::string& file, const std::string& field, const std::string& message)
      : FileError(Text{file + ": " + (field.empty() ? "" : "field '" + field + "': ") + message}, file, field, message) {}
  const std::string& file() const { return file_; }
  const std::string& field() const { return field_; }
  const std::string& message() const { return message_; }  // the cause alone, without file and field

 protected:
  // For readers whose messages keep their own layout (the importer's "manifest: field: cause");
  // file(), field() and message() are the same parts.
  struct Text {
    std::string what;
  };
  FileError(Text text, std::string file, std::string field, std::string message)
      : std::runtime_error(text.what), file_(std::move(file)), field_(std::move(field)), message_(std::move(message)) {}

 private:
  std::string file_, field_, message_;
};

struct OwnedTensor {
  std::string name;
  DType dtype = DType::U8;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  int64_t numel() const;  // std::overflow_error naming the tensor if the shape's product overflows
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
