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
