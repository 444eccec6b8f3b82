// Per-function ISA targets. Kernel files are compiled for baseline x86-64 like everything else,
// so inline code they share with the rest of the binary (std::, harness headers) never carries
// AVX-512 instructions into paths that run before dispatch; only functions marked here do.
#pragma once

#define QB_TARGET_AVX2 __attribute__((target("avx2,fma,f16c,bmi2")))
#define QB_TARGET_AVX512 \
  __attribute__((target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512dq,avx512vl")))
#define QB_TARGET_AVX512VNNI \
  __attribute__((target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define QB_TARGET_AVX512VBMI \
  __attribute__((target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx512vbmi,avx512vbmi2,gfni")))
