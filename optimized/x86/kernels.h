// Declarations of the x86 kernels, generated from optimized/x86/kernels.inc so a kernel is
// written once (its file) and listed once (its line). Signatures are harness/qb_plugin.h's.
#pragma once
#include "harness/qb_plugin.h"

#define QB_KERNEL_SIG_dequant(fn) void fn(const qb_weight* w, int64_t r0, int64_t r1, float* out)
#define QB_KERNEL_SIG_inner(fn) QB_KERNEL_SIG_dequant(fn)
// The 16-bit decodes (harness/registry.h Op::dequant_f16, Op::dequant_bf16): out holds fp16 or
// bf16 bits.
#define QB_KERNEL_SIG_dequant_f16(fn) void fn(const qb_weight* w, int64_t r0, int64_t r1, uint16_t* out)
#define QB_KERNEL_SIG_dequant_bf16(fn) QB_KERNEL_SIG_dequant_f16(fn)
#define QB_KERNEL_SIG_gemv(fn) \
  void fn(const qb_weight* w, const uint8_t* act, int64_t m, int64_t r0, int64_t r1, float* y)

namespace qb::x86 {

#define QB_KERNEL(format, op, isa) QB_KERNEL_SIG_##op(format##_##op##_##isa);
#define QB_BATCH_KERNEL(format, op, isa) QB_KERNEL(format, op, isa)
#define QB_KERNEL_TAGGED(format, op, isa, tag) QB_KERNEL_SIG_##op(format##_##op##_##isa##_##tag);
#include "optimized/x86/kernels.inc"
#undef QB_KERNEL
#undef QB_BATCH_KERNEL
#undef QB_KERNEL_TAGGED

}  // namespace qb::x86
