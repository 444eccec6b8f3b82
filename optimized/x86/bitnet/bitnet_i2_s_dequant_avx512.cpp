// bitnet_i2_s dequant, AVX-512 (16 floats per store): bitnet_dequant_body.inc's i2s_dequant over V16.
#include "optimized/x86/bitnet/bitnet_x86.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {
using namespace bitnetk;
#define QB_BITNET_TARGET QB_TARGET_AVX512
#include "optimized/x86/bitnet/bitnet_dequant_body.inc"
#undef QB_BITNET_TARGET
}  // namespace

QB_TARGET_AVX512 void bitnet_i2_s_dequant_avx512(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  i2s_dequant<V16>(w, r0, r1, out);
}

}  // namespace qb::x86
