#include "optimized/x86/kernels.h"
namespace qb::x86 {
void q8_0_gemv_avx512vnni(const QWeight& w, const uint8_t* act, int64_t r0, int64_t r1, float* y) { w.format->gemv_ref(w, act, r0, r1, y); }  // placeholder
}
