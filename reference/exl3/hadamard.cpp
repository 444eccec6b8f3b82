#include "reference/exl3/hadamard.h"

namespace qb::exl3 {

void fwht128(double* v, std::ptrdiff_t stride) {
  for (std::ptrdiff_t h = 1; h < 128; h *= 2)
    for (std::ptrdiff_t i = 0; i < 128; i += 2 * h)
      for (std::ptrdiff_t j = i; j < i + h; ++j) {
        const double a = v[j * stride], b = v[(j + h) * stride];
        v[j * stride] = a + b;
        v[(j + h) * stride] = a - b;
      }
}

}  // namespace qb::exl3
