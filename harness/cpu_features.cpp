#include "harness/cpu_features.h"

#include <cstring>
#include <thread>
#include <utility>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define QB_X86 1
#endif

namespace qb {
namespace {

constexpr std::pair<uint64_t, const char*> kNames[] = {
    {kSSE2, "sse2"},           {kSSSE3, "ssse3"},           {kSSE41, "sse4.1"},       {kAVX, "avx"},
    {kF16C, "f16c"},           {kFMA, "fma"},               {kAVX2, "avx2"},          {kBMI2, "bmi2"},
    {kAVX512F, "avx512f"},     {kAVX512DQ, "avx512dq"},     {kAVX512BW, "avx512bw"},  {kAVX512VL, "avx512vl"},
    {kAVX512CD, "avx512cd"},   {kAVX512IFMA, "avx512ifma"}, {kAVX512VBMI, "avx512vbmi"},
    {kAVX512VBMI2, "avx512vbmi2"}, {kAVX512VNNI, "avx512vnni"}, {kAVX512BF16, "avx512bf16"},
    {kAVX512BITALG, "avx512bitalg"}, {kAVX512VPOPCNTDQ, "avx512vpopcntdq"}, {kAVXVNNI, "avxvnni"},
    {kGFNI, "gfni"},           {kNEON, "neon"},             {kDOTPROD, "dotprod"},    {kI8MM, "i8mm"},
};

#ifdef QB_X86
struct Regs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};
Regs cpuid(unsigned leaf, unsigned sub = 0) {
  Regs r;
  __cpuid_count(leaf, sub, r.a, r.b, r.c, r.d);
  return r;
}
uint64_t xgetbv0() {
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

void detect_x86(CpuInfo& info) {
  info.arch = "x86_64";
  const Regs v = cpuid(0);
  char vendor[13] = {};
  std::memcpy(vendor, &v.b, 4);
  std::memcpy(vendor + 4, &v.d, 4);
  std::memcpy(vendor + 8, &v.c, 4);
  info.vendor = vendor;
  if (cpuid(0x80000000).a >= 0x80000004) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      const Regs r = cpuid(0x80000002 + i);
      std::memcpy(brand + 16 * i, &r, 16);
    }
    info.brand = brand;
    const auto first = info.brand.find_first_not_of(' ');
    info.brand = first == std::string::npos ? "" : info.brand.substr(first);
  }

  uint64_t f = kSSE2;  // x86-64 baseline
  const Regs l1 = cpuid(1);
  if (l1.c & (1u << 9)) f |= kSSSE3;
  if (l1.c & (1u << 19)) f |= kSSE41;
  // AVX state must be enabled by the OS (OSXSAVE, then XCR0 bits 1 and 2).
  const bool osxsave = l1.c & (1u << 27);
  const uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool ymm_os = (xcr0 & 0x6) == 0x6;
  const bool zmm_os = (xcr0 & 0xE6) == 0xE6;  // + opmask, ZMM_Hi256, Hi16_ZMM
  if (ymm_os) {
    if (l1.c & (1u << 28)) f |= kAVX;
    if (l1.c & (1u << 29)) f |= kF16C;
    if (l1.c & (1u << 12)) f |= kFMA;
  }
  if (v.a >= 7) {
    const Regs l7 = cpuid(7, 0);
    const Regs l7s1 = cpuid(7, 1);
    if (l7.b & (1u << 8)) f |= kBMI2;
    if (l7.c & (1u << 8)) f |= kGFNI;
    if (ymm_os) {
      if (l7.b & (1u << 5)) f |= kAVX2;
      if (l7s1.a & (1u << 4)) f |= kAVXVNNI;
    }
    if (zmm_os) {
      const std::pair<unsigned, uint64_t> ebx[] = {{16, kAVX512F}, {17, kAVX512DQ}, {21, kAVX512IFMA},
                                                   {28, kAVX512CD}, {30, kAVX512BW}, {31, kAVX512VL}};
      for (auto [bit, feat] : ebx)
        if (l7.b & (1u << bit)) f |= feat;
      const std::pair<unsigned, uint64_t> ecx[] = {{1, kAVX512VBMI}, {6, kAVX512VBMI2}, {11, kAVX512VNNI},
                                                   {12, kAVX512BITALG}, {14, kAVX512VPOPCNTDQ}};
      for (auto [bit, feat] : ecx)
        if (l7.c & (1u << bit)) f |= feat;
      if (l7s1.a & (1u << 5)) f |= kAVX512BF16;
    }
  }
  info.features = f;
}
#endif

CpuInfo detect() {
  CpuInfo info;
#ifdef QB_X86
  detect_x86(info);
#elif defined(__aarch64__)
  info.arch = "aarch64";
  info.features = kNEON;
#else
  info.arch = "unknown";
#endif
  info.logical_cores = static_cast<int>(std::thread::hardware_concurrency());
  if (info.logical_cores < 1) info.logical_cores = 1;
  return info;
}

}  // namespace

const std::vector<IsaLevel>& isa_levels() {
  static const std::vector<IsaLevel> levels = {
      {"scalar", kIsaScalar},         {"avx2", kIsaAVX2},           {"avx512", kIsaAVX512},
      {"avx512vnni", kIsaAVX512VNNI}, {"avx512vbmi", kIsaAVX512VBMI},
  };
  return levels;
}

std::optional<uint64_t> isa_level_features(std::string_view name) {
  if (name == "native") return ~0ull;
  for (const auto& l : isa_levels())
    if (l.name == name) return l.features;
  return std::nullopt;
}

std::string isa_level_names(std::string_view sep) {
  std::string s;
  for (const auto& l : isa_levels()) s += (s.empty() ? "" : std::string(sep)) + std::string(l.name);
  return s;
}

std::string_view isa_level_name(uint64_t features) {
  if (features == ~0ull) return "native";
  std::string_view best = "scalar";
  for (const auto& l : isa_levels())
    if ((l.features & ~features) == 0) best = l.name;
  return best;
}

const CpuInfo& cpu_info() {
  static const CpuInfo info = detect();
  return info;
}

std::string feature_names(uint64_t features) {
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if (!(features & bit)) continue;
    if (!out.empty()) out += ' ';
    out += name;
  }
  return out;
}

}  // namespace qb
