// Run-time CPU feature detection (CPUID + XGETBV on x86) and ISA requirement masks.
// A kernel states the features it needs as a mask; the registry runs it only when the CPU
// (and the OS, for register state) provides all of them and the user's --isa ceiling allows it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qb {

enum Feature : uint64_t {
  kSSE2 = 1ull << 0,
  kSSSE3 = 1ull << 1,
  kSSE41 = 1ull << 2,
  kAVX = 1ull << 3,
  kF16C = 1ull << 4,
  kFMA = 1ull << 5,
  kAVX2 = 1ull << 6,
  kBMI2 = 1ull << 7,
  kAVX512F = 1ull << 8,
  kAVX512DQ = 1ull << 9,
  kAVX512BW = 1ull << 10,
  kAVX512VL = 1ull << 11,
  kAVX512CD = 1ull << 12,
  kAVX512IFMA = 1ull << 13,
  kAVX512VBMI = 1ull << 14,
  kAVX512VBMI2 = 1ull << 15,
  kAVX512VNNI = 1ull << 16,
  kAVX512BF16 = 1ull << 17,
  kAVX512BITALG = 1ull << 18,
  kAVX512VPOPCNTDQ = 1ull << 19,
  kAVXVNNI = 1ull << 20,
  kGFNI = 1ull << 21,
  kNEON = 1ull << 32,
  kDOTPROD = 1ull << 33,
  kI8MM = 1ull << 34,
};

// Named ISA levels: what a kernel requires and what `--isa` caps a run at.
struct IsaLevel {
  std::string_view name;
  uint64_t features;
};
// x86-64 baseline is SSE2; "scalar" requires nothing.
constexpr uint64_t kIsaScalar = 0;
constexpr uint64_t kIsaAVX2 = kSSE2 | kSSSE3 | kSSE41 | kAVX | kF16C | kFMA | kAVX2 | kBMI2;
constexpr uint64_t kIsaAVX512 = kIsaAVX2 | kAVX512F | kAVX512DQ | kAVX512BW | kAVX512VL;
constexpr uint64_t kIsaAVX512VNNI = kIsaAVX512 | kAVX512VNNI;
// Ice Lake / Zen 4 and later: every CPU with VBMI2 has GFNI too, so kernels at this level may use both.
constexpr uint64_t kIsaAVX512VBMI = kIsaAVX512VNNI | kAVX512VBMI | kAVX512VBMI2 | kGFNI;

// The levels by name, for kernel lists (optimized/<arch>/kernels.inc): a line naming a level that
// does not exist fails to compile instead of registering a kernel nothing ever runs.
namespace isa_level {
constexpr uint64_t scalar = kIsaScalar, avx2 = kIsaAVX2, avx512 = kIsaAVX512, avx512vnni = kIsaAVX512VNNI,
                   avx512vbmi = kIsaAVX512VBMI;
}  // namespace isa_level

const std::vector<IsaLevel>& isa_levels();
// The level with this name, or nullopt (the caller reports the valid names).
std::optional<uint64_t> isa_level_features(std::string_view name);
// Every level's name, joined by `sep`, for messages that list the valid ones.
std::string isa_level_names(std::string_view sep);
// Name of the highest level whose features are all in `features`.
std::string_view isa_level_name(uint64_t features);

struct CpuInfo {
  std::string vendor;
  std::string brand;
  std::string arch;      // "x86_64", "aarch64", ...
  uint64_t features = 0;  // usable: CPU reports it and the OS saves the register state
  int logical_cores = 1;
};

const CpuInfo& cpu_info();  // detected once
std::string feature_names(uint64_t features);  // "avx2 fma f16c ..."
// Features named in `missing`-style messages: those of `required` absent from `have`.
inline uint64_t missing_features(uint64_t required, uint64_t have) { return required & ~have; }

}  // namespace qb
