#include "reference/ggml/iq_lattice.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <utility>

#include "reference/ggml/iq_tables.h"
#include "reference/ggml/nearest_int.h"

namespace qb::ggml {

int IqLattice::index_of(const int* l) const {
  int code = 0;
  for (int i = 0; i < coords; ++i) code |= l[i] << (bits * i);
  return map[static_cast<std::size_t>(code)];
}

int nearest_neighbour(const IqLattice& t, int* l, const float* x, const float* w, float scale, const float* values) {
  int code = 0;
  for (int i = 0; i < t.coords; ++i) code |= l[i] << (t.bits * i);
  float best_d2 = std::numeric_limits<float>::max();
  int best = -1;
  for (const uint16_t j : t.neighbours[static_cast<std::size_t>(code)]) {
    const std::vector<int>& p = t.points[j];
    float d2 = 0.0f;
    for (int i = 0; i < t.coords; ++i) {
      const float diff = scale * values[p[static_cast<std::size_t>(i)]] - x[i];
      d2 += w[i] * diff * diff;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      best = j;
    }
  }
  if (best < 0) throw std::invalid_argument("iq quantizer: no neighbour at a finite distance (input is not finite)");
  std::copy(t.points[static_cast<std::size_t>(best)].begin(), t.points[static_cast<std::size_t>(best)].end(), l);
  return best;
}

namespace {

// `grid(j, i)`: the value of element i of decode grid entry j (its byte; int8 for iq1s_grid).
template <typename Value>
IqLattice build(int n, int coords, int bits, int shells, Value grid) {
  IqLattice t;
  t.coords = coords;
  t.bits = bits;
  std::set<int> values;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < coords; ++i) values.insert(grid(j, i));
  const std::vector<int> ranks(values.begin(), values.end());
  t.levels = static_cast<int>(ranks.size());
  t.map.assign(std::size_t{1} << (bits * coords), -1);
  t.neighbours.resize(t.map.size());
  for (int j = 0; j < n; ++j) {
    std::vector<int> p(static_cast<std::size_t>(coords));
    for (int i = 0; i < coords; ++i)
      p[static_cast<std::size_t>(i)] =
          static_cast<int>(std::lower_bound(ranks.begin(), ranks.end(), grid(j, i)) - ranks.begin());
    t.points.push_back(p);
    int code = 0;
    for (int i = 0; i < coords; ++i) code |= p[static_cast<std::size_t>(i)] << (bits * i);
    t.map[static_cast<std::size_t>(code)] = j;
  }
  const int levels = 1 << bits;
  for (std::size_t code = 0; code < t.map.size(); ++code) {
    if (t.map[code] >= 0) continue;
    // Codes with a level beyond the lattice (iq2's 2-bit level 3) are never looked up.
    bool valid = true;
    for (int i = 0; i < coords; ++i)
      valid &= static_cast<int>((code >> (bits * i)) & (levels - 1)) < t.levels;
    if (!valid) continue;
    std::vector<std::pair<int, int>> dist;  // (squared distance on the 2l+1 lattice, grid index)
    for (int j = 0; j < n; ++j) {
      int d2 = 0;
      for (int i = 0; i < coords; ++i) {
        const int diff = 2 * (t.points[static_cast<std::size_t>(j)][static_cast<std::size_t>(i)] -
                              static_cast<int>((code >> (bits * i)) & (levels - 1)));
        d2 += diff * diff;
      }
      dist.emplace_back(d2, j);
    }
    std::sort(dist.begin(), dist.end());
    int seen = 1;
    for (std::size_t k = 0; k < dist.size(); ++k) {
      if (k > 0 && dist[k].first > dist[k - 1].first && ++seen > shells) break;
      t.neighbours[code].push_back(static_cast<uint16_t>(dist[k].second));
    }
  }
  return t;
}

}  // namespace

const IqLattice& iq2xxs_lattice() {
  static const IqLattice t = build(256, 8, 2, 2, [](int j, int i) { return grid_u8(iq2xxs_grid[j], i); });
  return t;
}
const IqLattice& iq2xs_lattice() {
  static const IqLattice t = build(512, 8, 2, 2, [](int j, int i) { return grid_u8(iq2xs_grid[j], i); });
  return t;
}
const IqLattice& iq1s_lattice() {
  static const IqLattice t = build(2048, 8, 2, 3, [](int j, int i) { return grid_i8(iq1s_grid[j], i); });
  return t;
}
const IqLattice& iq3xxs_lattice() {
  static const IqLattice t = build(256, 4, 3, 2, [](int j, int i) { return grid_u8(iq3xxs_grid[j], i); });
  return t;
}
const IqLattice& iq3s_lattice() {
  static const IqLattice t = build(512, 4, 3, 3, [](int j, int i) { return grid_u8(iq3s_grid[j], i); });
  return t;
}
const IqLattice& iq2s_lattice() {
  static const IqLattice t = build(1024, 8, 2, 1, [](int j, int i) { return grid_u8(iq2s_grid[j], i); });
  return t;
}

namespace {

// The quantizer's value of level l, 2l+1.
constexpr float kOddValues[8] = {1, 3, 5, 7, 9, 11, 13, 15};

// Levels of one point at id: clamp(nearest_int(0.5*(id*x - 1)), 0, levels - 1).
void point_levels(const IqLattice& t, const float* xval, float id, int* l) {
  for (int i = 0; i < t.coords; ++i) {
    const int v = nearest_int(0.5f * (id * xval[i] - 1));
    l[i] = v < 0 ? 0 : (v > t.levels - 1 ? t.levels - 1 : v);
  }
}

// sum w*x*q and sum w*q*q with q = 2l+1, in element order as upstream accumulates them.
void sums(int n, const float* xval, const float* weight, const int* L, float& sumqx, float& sumq2) {
  sumqx = 0.0f;
  sumq2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float q = static_cast<float>(2 * L[i] + 1);
    sumqx += weight[i] * xval[i] * q;
    sumq2 += weight[i] * q * q;
  }
}

}  // namespace

float iq_fit_group(const IqLattice& t, int n, const float* xval, const float* weight, const IqFitOptions& opt,
                   int* L) {
  constexpr int kMaxN = 32;
  const int points = n / t.coords;
  float waux[kMaxN];
  for (int i = 0; i < n; ++i) waux[i] = std::sqrt(weight[i]);
  float max = xval[0];
  for (int i = 1; i < n; ++i) max = max > xval[i] ? max : xval[i];
  const int top = 2 * t.levels - 1;  // the largest lattice value 2l+1
  float best = 0.0f, scale = max / static_cast<float>(top);
  bool on_grid[kMaxN];
  std::fill(on_grid, on_grid + points, opt.on_grid_start);
  for (int is = -opt.search; is <= opt.search; ++is) {
    const float id = (static_cast<float>(top) + static_cast<float>(is) * opt.step) / max;
    const float this_scale = 1 / id;
    int Laux[kMaxN];
    bool on_aux[kMaxN];
    for (int k = 0; k < points; ++k) {
      int* l = Laux + t.coords * k;
      point_levels(t, xval + t.coords * k, id, l);
      on_aux[k] = t.index_of(l) >= 0;
      if (!on_aux[k]) nearest_neighbour(t, l, xval + t.coords * k, waux + t.coords * k, this_scale, kOddValues);
    }
    float sumqx, sumq2;
    sums(n, xval, weight, Laux, sumqx, sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      scale = sumqx / sumq2;
      best = scale * sumqx;
      std::copy(Laux, Laux + n, L);
      std::copy(on_aux, on_aux + points, on_grid);
    }
  }
  if (std::count(on_grid, on_grid + points, false) > 0 && scale > 0) {
    const float id = 1 / scale;
    for (int k = 0; k < points; ++k) {
      if (on_grid[k] && !opt.refit_all) continue;
      int* l = L + t.coords * k;
      point_levels(t, xval + t.coords * k, id, l);
      if (t.index_of(l) < 0) nearest_neighbour(t, l, xval + t.coords * k, waux + t.coords * k, scale, kOddValues);
    }
    float sumqx, sumq2;
    sums(n, xval, weight, L, sumqx, sumq2);
    if (sumq2 > 0) scale = sumqx / sumq2;
  }
  return scale;
}

namespace {

// make_qp_quants (specs/ggml.md 3.11): levels 0..nmax for x under weights w. First levels
// nearest_int(x*nmax/max), then of the trial scales (nmax + 0.1is)/max, is = -4..4, the one of
// least weighted squared error, then up to 5 sweeps of per-element coordinate descent on
// sum(wxl)^2/sum(wl^2). Returns sum(wxl)/sum(wl^2) (0 when the sum of wl^2 is 0, or max < 1e-15).
// Upstream keeps L as uint8: a negative level (a parity-kept negative x) wraps where it is
// stored and read back, but the sums of the final levels use the unwrapped value.
float make_qp_quants(int n, int nmax, const float* x, const float* w, int* L) {
  float max = 0.0f;
  for (int i = 0; i < n; ++i) max = max > x[i] ? max : x[i];
  if (max < 1e-15f) {
    std::fill(L, L + n, 0);
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / max;
  // Levels are uint8 upstream: a negative one (a parity-kept negative magnitude) wraps.
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(nearest_int(iscale * x[i]));
  const float scale = 1 / iscale;
  float best_mse = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * static_cast<float>(L[i]);
    best_mse += w[i] * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * static_cast<float>(is) + static_cast<float>(nmax)) / max;
    const float scale_is = 1 / iscale_is;
    float mse = 0.0f;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale_is * x[i]);
      l = l < nmax ? l : nmax;
      const float diff = x[i] - scale_is * static_cast<float>(l);
      mse += w[i] * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_is;
    }
  }
  float sumlx = 0.0f, suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = l < nmax ? l : nmax;
    L[i] = static_cast<uint8_t>(l);
    sumlx += w[i] * x[i] * static_cast<float>(l);
    suml2 += w[i] * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int itry = 0; itry < 5; ++itry) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      float slx = sumlx - w[i] * x[i] * static_cast<float>(L[i]);
      float sl2 = suml2 - w[i] * static_cast<float>(L[i]) * static_cast<float>(L[i]);
      if (slx > 0 && sl2 > 0) {
        int l = nearest_int(x[i] * sl2 / slx);
        l = l < nmax ? l : nmax;
        if (l != L[i]) {
          slx += w[i] * x[i] * static_cast<float>(l);
          sl2 += w[i] * static_cast<float>(l) * static_cast<float>(l);
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<uint8_t>(l);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (!changed) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

}  // namespace

float iq2_imatrix_fit(const IqLattice& t, int n, const float* xval, const float* weight, int* L) {
  constexpr int kMaxN = 32;
  const int points = n / t.coords;
  float waux[kMaxN];
  for (int i = 0; i < n; ++i) waux[i] = std::sqrt(weight[i]);
  // Upstream's kMaxQ is the number of levels (3): make_qp_quants gets kMaxQ + 1.
  float scale = make_qp_quants(n, t.levels + 1, xval, weight, L);
  const float eff_max = scale * static_cast<float>(t.levels);
  const int top = 2 * t.levels - 1;
  float best = 0.0f;
  for (int is = -6; is <= 6; ++is) {
    const float id = (static_cast<float>(top) + static_cast<float>(is) * 0.1f) / eff_max;
    const float this_scale = 1 / id;
    int Laux[kMaxN];
    for (int k = 0; k < points; ++k) {
      int* l = Laux + t.coords * k;
      point_levels(t, xval + t.coords * k, id, l);
      if (t.index_of(l) < 0) nearest_neighbour(t, l, xval + t.coords * k, waux + t.coords * k, this_scale, kOddValues);
    }
    float sumqx, sumq2;
    sums(n, xval, weight, Laux, sumqx, sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      scale = sumqx / sumq2;
      best = scale * sumqx;
      std::copy(Laux, Laux + n, L);
    }
  }
  if (scale > 0) {
    const float id = 1 / scale;
    for (int k = 0; k < points; ++k) {
      int* l = L + t.coords * k;
      point_levels(t, xval + t.coords * k, id, l);
      if (t.index_of(l) < 0) nearest_neighbour(t, l, xval + t.coords * k, waux + t.coords * k, scale, kOddValues);
    }
    float sumqx, sumq2;
    sums(n, xval, weight, L, sumqx, sumq2);
    if (sumq2 > 0) scale = sumqx / sumq2;
  }
  return scale;
}

void even_parity_signs(const float* xb, const float* weight, int groups, float* xval, uint32_t* signs) {
  for (int k = 0; k < groups; ++k) {
    int negative = 0;
    uint32_t s = 0;
    for (int i = 0; i < 8; ++i) {
      const int e = 8 * k + i;
      xval[e] = xb[e] >= 0 ? xb[e] : -xb[e];
      if (!(xb[e] >= 0)) {
        ++negative;
        s |= 1u << i;
      }
    }
    if (negative % 2) {
      int imin = 0;
      float min = weight[8 * k] * xb[8 * k] * xb[8 * k];
      for (int i = 1; i < 8; ++i) {
        const float v = weight[8 * k + i] * xb[8 * k + i] * xb[8 * k + i];
        if (v < min) {
          min = v;
          imin = i;
        }
      }
      xval[8 * k + imin] = -xval[8 * k + imin];
      s ^= 1u << imin;
    }
    signs[k] = s & 127;
  }
}

}  // namespace qb::ggml
