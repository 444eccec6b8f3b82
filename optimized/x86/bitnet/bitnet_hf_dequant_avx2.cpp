// bitnet_hf dequant, AVX2 (8 floats per store): bitnet_dequant_body.inc's hf_dequant over V8.
#include "optimized/x86/bitnet/bitnet_x86.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {
using namespace bitnetk;
#define QB_BITNET_TARGET QB_TARGET_AVX2
#include "optimized/x86/bitnet/bitnet_dequant_body.inc"
#undef QB_BITNET_TARGET
}  // namespace

QB_TARGET_AVX2 void bitnet_hf_dequant_avx2(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  hf_dequant<V8>(w, r0, r1, out);
}

}  // namespace qb::x86
