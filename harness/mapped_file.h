// A whole file mapped read-only (PROT_READ, MAP_PRIVATE): weights of many GiB are viewed in place,
// and the pages a kernel never touches are never read.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace qb {

class MappedFile {
 public:
  // Throws FileError naming the file when it cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }  // null for an empty file
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace qb
