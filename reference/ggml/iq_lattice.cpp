#include "reference/ggml/iq_lattice.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "reference/ggml/iq_tables.h"
#include "reference/ggml/nearest_int.h"

namespace qb::ggml {

int IqLattice::index_of(const int* l) const {
  int code = 0;
  for (int i = 0; i < coords; ++i) code |= l[i] << (bits * i);
  return map[static_cast<std::size_t>(code)];
}

namespace {

// `grid(j, i)`: byte i of decode grid entry j.
template <typename Byte>
IqLattice build(int n, int coords, int bits, int shells, Byte grid) {
  IqLattice t;
  t.coords = coords;
  t.bits = bits;
  std::set<int> bytes;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < coords; ++i) bytes.insert(grid(j, i));
  const std::vector<int> ranks(bytes.begin(), bytes.end());
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
    bool valid = true;  // codes whose levels exceed the lattice (iq2's 2-bit level 3) are never looked up
    for (int i = 0; i < coords; ++i) valid &= static_cast<int>((code >> (bits * i)) & (levels - 1)) < static_cast<int>(ranks.size());
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

}  // namespace qb::ggml

namespace qb::ggml {
namespace {

// Upstream's iq2/iq3_find_best_neighbour: the neighbour of the off-grid point with levels l closest
// to xval at `scale`, distances weighted by waux; the first of equal distances wins. Writes its
// levels to l and returns its grid index.
int best_neighbour(const IqLattice& t, const int* l, const float* xval, const float* waux, float scale, int* out) {
  int code = 0;
  for (int i = 0; i < t.coords; ++i) code |= l[i] << (t.bits * i);
  float best_d2 = std::numeric_limits<float>::max();
  int best = -1;
  for (const uint16_t j : t.neighbours[static_cast<std::size_t>(code)]) {
    float d2 = 0.0f;
    for (int i = 0; i < t.coords; ++i) {
      const float q = static_cast<float>(2 * t.points[j][static_cast<std::size_t>(i)] + 1);
      const float diff = scale * q - xval[i];
      d2 += waux[i] * diff * diff;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      best = j;
    }
  }
  for (int i = 0; i < t.coords; ++i) out[i] = t.points[static_cast<std::size_t>(best)][static_cast<std::size_t>(i)];
  return best;
}

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
      if (!on_aux[k]) best_neighbour(t, l, xval + t.coords * k, waux + t.coords * k, this_scale, l);
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
      if (t.index_of(l) < 0) best_neighbour(t, l, xval + t.coords * k, waux + t.coords * k, scale, l);
    }
    float sumqx, sumq2;
    sums(n, xval, weight, L, sumqx, sumq2);
    if (sumq2 > 0) scale = sumqx / sumq2;
  }
  return scale;
}

}  // namespace qb::ggml
