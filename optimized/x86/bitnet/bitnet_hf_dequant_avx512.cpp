// bitnet_hf dequant, AVX-512 (16 floats per store): bitnet_dequant_body.inc's hf_dequant over V16.
// The mutant bitnet_hf_dq512_fields_reversed switches in this file's copy only (kHfFieldsReversed<V16>).
#include "optimized/x86/bitnet/bitnet_x86.h"
#include "optimized/x86/kernels.h"

namespace qb::x86 {
namespace {
using namespace bitnetk;
#define QB_BITNET_TARGET QB_TARGET_AVX512
#include "optimized/x86/bitnet/bitnet_dequant_body.inc"
#undef QB_BITNET_TARGET
}  // namespace

QB_TARGET_AVX512 void bitnet_hf_dequant_avx512(const qb_weight* w, int64_t r0, int64_t r1, float* out) {
  hf_dequant<V16>(w, r0, r1, out);
}

}  // namespace qb::x86
