#include "benches/memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <new>
#include <string>

namespace qb::bench {

namespace {
constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kRotationMax = std::size_t{1} << 30;

// sysfs writes sizes as "32768K"; only K and M suffixes occur.
std::size_t parse_cache_size(const std::string& s) {
  std::size_t pos = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(s, &pos);
  } catch (const std::exception&) {
    return 0;
  }
  const char unit = pos < s.size() ? s[pos] : ' ';
  if (unit == 'K') return n << 10;
  if (unit == 'M') return n << 20;
  return n;
}
}  // namespace

void FreeDeleter::operator()(void* p) const { std::free(p); }

Buffer::Buffer(std::size_t bytes) : bytes_(bytes) {
  const std::size_t rounded = (std::max<std::size_t>(bytes, 1) + kHugePage - 1) / kHugePage * kHugePage;
  void* p = std::aligned_alloc(kHugePage, rounded);
  if (!p) throw std::bad_alloc();
  madvise(p, rounded, MADV_HUGEPAGE);  // advisory: without THP it is a no-op, not an error
  p_.reset(static_cast<uint8_t*>(p));
}

std::size_t last_level_cache_bytes() {
  std::size_t best = 0;
  for (int i = 0;; ++i) {
    std::ifstream f("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/size");
    if (!f) break;
    std::string s;
    f >> s;
    best = std::max(best, parse_cache_size(s));
  }
  return best;
}

std::size_t rotation_target_bytes() {
  // The same span as the bandwidth probe, so bw_fraction compares like with like; a VM's sysfs
  // may understate the cache the host really gives it (this machine class: 32 MiB in sysfs,
  // ~508 MiB L3 in CPUID), so 4x the reported LLC is only used when it is larger.
  return std::max(4 * last_level_cache_bytes(), kRotationMax);
}

std::size_t rotation_copies(std::size_t bytes) {
  const std::size_t target = rotation_target_bytes();
  return std::max<std::size_t>(1, (target + bytes - 1) / std::max<std::size_t>(bytes, 1));
}

}  // namespace qb::bench
