// The kernel's view of CPU flags, read independently of harness/cpu_features.cpp: Linux's
// /proc/cpuinfo. Tests use it to catch a dispatcher that silently skips supported variants.
#pragma once
#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "harness/cpu_features.h"

namespace qb::test {

inline std::set<std::string> proc_cpuinfo_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::string> flags;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string w; words >> w;) flags.insert(w);
    break;
  }
  return flags;
}

inline const std::pair<uint64_t, const char*> kCpuinfoNames[] = {
    {kSSSE3, "ssse3"},           {kSSE41, "sse4_1"},         {kAVX, "avx"},
    {kF16C, "f16c"},             {kFMA, "fma"},              {kAVX2, "avx2"},
    {kBMI2, "bmi2"},             {kAVX512F, "avx512f"},      {kAVX512DQ, "avx512dq"},
    {kAVX512BW, "avx512bw"},     {kAVX512VL, "avx512vl"},    {kAVX512CD, "avx512cd"},
    {kAVX512IFMA, "avx512ifma"}, {kAVX512VBMI, "avx512vbmi"}, {kAVX512VBMI2, "avx512_vbmi2"},
    {kAVX512VNNI, "avx512_vnni"}, {kAVX512BF16, "avx512_bf16"}, {kAVX512BITALG, "avx512_bitalg"},
    {kAVX512VPOPCNTDQ, "avx512_vpopcntdq"}, {kAVXVNNI, "avx_vnni"}, {kGFNI, "gfni"},
};

// Feature mask according to /proc/cpuinfo (the OS lists only what it enabled).
inline uint64_t cpuinfo_features() {
  const auto flags = proc_cpuinfo_flags();
  uint64_t f = flags.empty() ? uint64_t{0} : uint64_t{kSSE2};
  for (const auto& [bit, name] : kCpuinfoNames)
    if (flags.count(name)) f |= bit;
  return f;
}

}  // namespace qb::test
