// Large buffers for weights and the bandwidth probe, and the cache size that decides how many
// weight copies a benchmark rotates through.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace qb::bench {

struct FreeDeleter {
  void operator()(void* p) const;
};

// 2 MiB-aligned and marked for transparent huge pages, so the probe and the kernels see the same
// TLB behaviour and neither is limited by 4 KiB page walks.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t bytes);
  uint8_t* data() const { return p_.get(); }
  std::size_t size() const { return bytes_; }

 private:
  std::unique_ptr<uint8_t, FreeDeleter> p_;
  std::size_t bytes_ = 0;
};

// Largest cache of cpu0 from sysfs; 0 when sysfs does not say.
std::size_t last_level_cache_bytes();

// Memory a benchmark may hold at once (weight copies + dequant outputs + encoding scratch): 4 GiB
// takes an LM head of a 150k-token vocabulary at hidden 4096 (2.4 GiB of fp32 source to encode).
inline constexpr std::size_t kMemoryCap = std::size_t{4} << 30;

// Bytes one rotation set (weight copies, or dequant output copies) must span so that each
// iteration reads from DRAM: 1 GiB (the probe's span), or 4x the reported LLC if larger.
std::size_t rotation_target_bytes();
// Copies of a `bytes`-sized buffer that reach rotation_target_bytes() (at least 1).
std::size_t rotation_copies(std::size_t bytes);

}  // namespace qb::bench
