// The list of optimized kernels. Adding a variant: its file under optimized/<arch>/ and one line
// here. Names follow <format>_<op>_<isa>; the ISA mask is what the registry checks before running.
#include "harness/cpu_features.h"
#include "harness/registry.h"
#include "optimized/x86/kernels.h"

namespace qb {

std::vector<Variant> make_optimized_variants() {
  std::vector<Variant> v;
#if defined(__x86_64__)
  const auto dq = [&](const char* name, const char* fmt, uint64_t isa, const char* isa_name, DequantFn fn) {
    v.push_back({name, fmt, Op::dequant, isa, isa_name, fn, nullptr});
  };
  const auto mv = [&](const char* name, const char* fmt, uint64_t isa, const char* isa_name, GemvFn fn) {
    v.push_back({name, fmt, Op::gemv, isa, isa_name, nullptr, fn});
  };
  const auto in = [&](const char* name, const char* fmt, uint64_t isa, const char* isa_name, DequantFn fn) {
    v.push_back({name, fmt, Op::inner, isa, isa_name, fn, nullptr});
  };
  const auto mb = [&](const char* name, const char* fmt, uint64_t isa, const char* isa_name, GemvBatchFn fn) {
    Variant var{name, fmt, Op::gemv, isa, isa_name, nullptr, nullptr};
    var.gemv_batch = fn;
    v.push_back(var);
  };
  dq("q4_0_dequant_avx2", "q4_0", kIsaAVX2, "avx2", x86::q4_0_dequant_avx2);
  dq("q4_0_dequant_avx512", "q4_0", kIsaAVX512, "avx512", x86::q4_0_dequant_avx512);
  mv("q4_0_gemv_avx2", "q4_0", kIsaAVX2, "avx2", x86::q4_0_gemv_avx2);
  mv("q4_0_gemv_avx512vnni", "q4_0", kIsaAVX512VNNI, "avx512vnni", x86::q4_0_gemv_avx512vnni);
  dq("q8_0_dequant_avx2", "q8_0", kIsaAVX2, "avx2", x86::q8_0_dequant_avx2);
  dq("q8_0_dequant_avx512", "q8_0", kIsaAVX512, "avx512", x86::q8_0_dequant_avx512);
  mv("q8_0_gemv_avx2", "q8_0", kIsaAVX2, "avx2", x86::q8_0_gemv_avx2);
  mv("q8_0_gemv_avx512vnni", "q8_0", kIsaAVX512VNNI, "avx512vnni", x86::q8_0_gemv_avx512vnni);
  in("exl3_inner_avx2", "exl3", kIsaAVX2, "avx2", x86::exl3_inner_avx2);
  in("exl3_inner_avx512", "exl3", kIsaAVX512, "avx512", x86::exl3_inner_avx512);
  dq("exl3_dequant_avx2", "exl3", kIsaAVX2, "avx2", x86::exl3_dequant_avx2);
  dq("exl3_dequant_avx512", "exl3", kIsaAVX512, "avx512", x86::exl3_dequant_avx512);
  mb("exl3_gemv_avx2", "exl3", kIsaAVX2, "avx2", x86::exl3_gemv_avx2);
  mb("exl3_gemv_avx512", "exl3", kIsaAVX512, "avx512", x86::exl3_gemv_avx512);
  mb("exl3_gemv_avx512vbmi", "exl3", kIsaAVX512VBMI, "avx512vbmi", x86::exl3_gemv_avx512vbmi);
#endif
  return v;
}

}  // namespace qb
