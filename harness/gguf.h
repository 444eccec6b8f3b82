// GGUF container (llama.cpp's model file), versions 2 and 3, read from a memory map: header,
// metadata key/value pairs of every value type (nested arrays included), tensor infos, and views
// of the tensors' bytes in place. Layout (little-endian throughout; v2 and v3 lay it out alike, v3
// only allows big-endian files, which are refused here by their byte-swapped version):
//   "GGUF", u32 version, u64 tensor_count, u64 metadata_kv_count,
//   metadata_kv_count x {string key, u32 value_type, value},
//   tensor_count x {string name, u32 n_dims, n_dims x u64 ne, u32 type id, u64 offset},
//   padding to general.alignment, then the data section (offsets count from its start).
// A string is u64 length + bytes (no terminator); an array is u32 element type, u64 count, values.
// GGUF v1 (u32 counts and lengths) is refused by name.
//
// The reader is strict and safe on hostile input: every count and length is checked against the
// bytes that remain before anything is walked, and lists grow only with entries actually read, so
// a file can make the reader neither crash, nor hang, nor allocate more than a small multiple of
// its own size (each key/value pair or tensor info takes at least 13 or 24 bytes). Every error is a
// FileError naming the file, the field ("tensor_count", "metadata.general.alignment",
// "tensors.<name>.offset") and what is wrong. Beyond the byte layout it applies the rules of
// upstream's reference reader: unique keys and tensor names, general.alignment a u32 power of
// two, at most 4 dimensions, names under 64 bytes, a known type whose block divides ne[0], and each
// tensor at the previous one's end padded to the alignment (so no overlap, no hole, no
// misalignment), inside the file.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qb {

class MappedFile;

// One tensor type id as GGUF stores it, as a family lists it (Family::gguf_types). A quantized
// type names its registry format; an unquantized one (f32, f16, bf16, i8..i64, f64) has none, and
// its block is one element of block_bytes bytes. The reader needs every id's geometry to place the
// bytes of tensors it will not decode.
struct GgufTypeId {
  uint32_t id = 0;
  std::string name;    // upstream's type name, as the family lists it
  std::string format;  // registry format id; empty for an unquantized type
  int64_t block_elems = 1, block_bytes = 0;
  // Bytes of a tensor of `numel` elements in rows of `row` (ne[0]) where the type's files hold other
  // than numel / block_elems * block_bytes (a per-tensor tail, say); null: the
  // blocks. Throws std::invalid_argument for a shape that has no such size.
  uint64_t (*tensor_bytes)(int64_t row, int64_t numel) = nullptr;
  // Tensors that carry a layer's later stored tensors (Format::layout order, after those the
  // tensor's own bytes fill): the tensor named <name><suffix>, for each suffix in turn (a separate scale tensor, say).
  std::vector<std::string> companions;
};
// A type id of plain block geometry (no size hook, no companions).
GgufTypeId gguf_type(uint32_t id, std::string name, std::string format, int64_t block_elems, int64_t block_bytes);

enum class GgufValueType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8, array = 9,
  u64 = 10, i64 = 11, f64 = 12,
};
// "uint8", ..., "float64": the names of the GGUF specification.
std::string_view gguf_value_type_name(GgufValueType t);

// A metadata value, viewed in the mapped file (valid while its GgufFile lives). The accessors throw
// std::logic_error when asked for another type than type().
class GgufValue {
 public:
  GgufValueType type() const { return type_; }
  uint64_t as_uint() const;  // uint8/16/32/64
  int64_t as_int() const;    // int8/16/32/64
  double as_float() const;   // float32/64 (the float32 widened exactly)
  bool as_bool() const;
  std::string_view as_string() const;
  // Arrays: the element type, the count and the elements in order (a nested array's elements are
  // arrays themselves; elements() builds one GgufValue per element, so for arrays of millions of
  // numbers read bytes() instead).
  GgufValueType element_type() const;
  uint64_t count() const;
  std::vector<GgufValue> elements() const;
  // The value's encoding as stored, after its type tag (a string's length included).
  const uint8_t* bytes() const { return at_; }
  uint64_t nbytes() const { return nbytes_; }

 private:
  friend class GgufParser;
  GgufValueType type_ = GgufValueType::u8;
  const uint8_t* at_ = nullptr;
  uint64_t nbytes_ = 0;
  GgufValueType elem_ = GgufValueType::u8;  // arrays
  uint64_t count_ = 0;                      // arrays
};

struct GgufTensor {
  std::string name;
  std::vector<int64_t> ne;  // GGUF order: ne[0] is the row length (contiguous), ne[1] the rows
  const GgufTypeId* type = nullptr;  // into the type list the file was read with
  uint64_t offset = 0;               // from the start of the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;     // in the mapped file
  int64_t numel() const;             // checked by the reader: no overflow
};

struct GgufFile {
  std::string path;
  uint32_t version = 0;
  uint64_t alignment = 32;  // general.alignment, or the default 32
  uint64_t data_begin = 0;  // file offset of the data section
  std::vector<std::pair<std::string, GgufValue>> metadata;  // in file order
  std::vector<GgufTensor> tensors;                          // in file order
  std::shared_ptr<const MappedFile> map;                    // owns every view above

  const GgufValue* find(std::string_view key) const;
  const GgufTensor* find_tensor(std::string_view name) const;
};

// Reads and checks the whole header; `types` are the tensor type ids the file may use (a family's
// gguf_types) and must outlive the result. Throws FileError as described above.
GgufFile read_gguf(const std::string& path, const std::vector<GgufTypeId>& types);
// The same with the type list chosen by the file's metadata (a GGUF dialect, harness/family.h):
// `types_for` sees the header with its metadata read and no tensors yet.
GgufFile read_gguf(const std::string& path,
                   const std::function<const std::vector<GgufTypeId>&(const GgufFile& header)>& types_for);

// Whether the file begins with the GGUF magic (false when it cannot be read).
bool has_gguf_magic(const std::string& path);

}  // namespace qb
