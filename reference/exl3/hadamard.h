// The unnormalised 128-point Sylvester transform (entries +-1, natural order) in double; callers
// apply the 1/128 of the two orthonormal sides at once, which is exact.
#pragma once
#include <cstddef>

namespace qb::exl3 {

// v[i * stride], i = 0..127, becomes sum_b (-1)^popcount(i & b) v[b * stride].
void fwht128(double* v, std::ptrdiff_t stride = 1);

}  // namespace qb::exl3
