// x86 microkernels, one per function, each compiled with the ISA flags in its name
// (see CMakeLists.txt). Signatures are the registry's DequantFn / GemvFn.
#pragma once
#include "harness/registry.h"

namespace qb::x86 {

void q4_0_dequant_avx2(const QWeight& w, int64_t r0, int64_t r1, float* out);
void q4_0_dequant_avx512(const QWeight& w, int64_t r0, int64_t r1, float* out);
void q4_0_gemv_avx2(const QWeight& w, const uint8_t* act, int64_t r0, int64_t r1, float* y);
void q4_0_gemv_avx512vnni(const QWeight& w, const uint8_t* act, int64_t r0, int64_t r1, float* y);

void q8_0_dequant_avx2(const QWeight& w, int64_t r0, int64_t r1, float* out);
void q8_0_dequant_avx512(const QWeight& w, int64_t r0, int64_t r1, float* out);
void q8_0_gemv_avx2(const QWeight& w, const uint8_t* act, int64_t r0, int64_t r1, float* y);
void q8_0_gemv_avx512vnni(const QWeight& w, const uint8_t* act, int64_t r0, int64_t r1, float* y);

void exl3_inner_avx2(const QWeight& w, int64_t r0, int64_t r1, float* out);
void exl3_inner_avx512(const QWeight& w, int64_t r0, int64_t r1, float* out);
void exl3_dequant_avx2(const QWeight& w, int64_t r0, int64_t r1, float* out);
void exl3_dequant_avx512(const QWeight& w, int64_t r0, int64_t r1, float* out);
void exl3_gemv_avx2(const QWeight& w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y);
void exl3_gemv_avx512(const QWeight& w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y);
void exl3_gemv_avx512vbmi(const QWeight& w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y);

}  // namespace qb::x86
