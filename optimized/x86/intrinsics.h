// The x86 intrinsics, included once for every kernel. GCC 12's AVX-512 headers feed unmasked
// intrinsics a self-initialized _mm512_undefined_*() value, which -W(maybe-)uninitialized reports
// at every inlined use inside those headers; the warnings are silenced for the headers' own lines
// only (push/pop), so kernel code keeps them.
#pragma once
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

namespace qb::x86 {
// Keeps a loaded vector in its register: a kernel that shifts one loaded word vector several
// times gets, from GCC, the load folded into every shift as a memory operand (one load per
// shift, and a split line on each where rows are not 64-byte aligned). An empty asm the value
// passes through makes the compiler materialize it once; it emits no instruction.
template <class T>
inline __attribute__((always_inline)) T in_register(T v) {
  __asm__("" : "+v"(v));
  return v;
}
}  // namespace qb::x86
