// The search structures upstream's iq quantizers build at init (ggml_quantize_init: iq2xs_init_impl,
// iq3xs_init_impl), derived here from the decode grids (specs/ggml.md 3.22).
//
// A grid point is a group of `coords` elements, each an integer level l in [0, levels), the
// quantizer's lattice value 2l+1; the decode grid stores a magnitude per level (iq3_xxs:
// 4, 12, ..., 52, 62; iq3_s: 2l+1; iq2: 8, 25, 43; iq1_s: -1, 0, 1 as int8), so a level is the
// rank of its value among the grid's distinct values. A code packs a group's levels, `bits` per
// element, element i at bit bits*i. map[code] is the grid index of the point with those levels,
// or -1 off the grid; for an off-grid code, neighbours[code] lists the grid points in the
// `shells` nearest distinct squared distances sum (2l_i+1 - (2m_i+1))^2, ordered by (distance,
// grid index) as upstream sorts them.
#pragma once
#include <cstdint>
#include <vector>

namespace qb::ggml {

struct IqLattice {
  int coords = 0, bits = 0;
  int levels = 0;                                  // distinct levels (8 for iq3, 3 for iq2 and iq1)
  std::vector<std::vector<int>> points;           // points[j][i]: level of element i of grid point j
  std::vector<int> map;                            // code -> grid index, -1 off the grid
  std::vector<std::vector<uint16_t>> neighbours;  // code -> nearest grid points (off-grid codes only)
  int index_of(const int* l) const;               // map[] of the levels l[0..coords)
};

// Upstream's neighbour search (iq2_find_best_neighbour, iq3_find_best_neighbour,
// iq1_find_best_neighbour2): among the neighbours of the off-grid point with levels l, the one
// minimising sum w_i*(scale*values[level_i] - x_i)^2 in fp32, the first of equal distances
// (values[l]: 2l+1 for iq2/iq3, iq1's shifted -1, 0, 1). Writes its levels to l and returns its
// grid index; throws std::invalid_argument when no distance is below FLT_MAX (a non-finite input,
// for which upstream scans the whole grid and may abort).
int nearest_neighbour(const IqLattice& lattice, int* l, const float* x, const float* w, float scale, const float* values);

const IqLattice& iq2xxs_lattice();  // 256 points of 8, 2 bits, 2 shells
const IqLattice& iq2xs_lattice();   // 512 points of 8, 2 bits, 2 shells
const IqLattice& iq1s_lattice();    // 2048 points of 8 (levels -1, 0, 1 in that order), 2 bits, 3 shells
const IqLattice& iq3xxs_lattice();  // 256 points of 4, 3 bits, 2 shells
const IqLattice& iq3s_lattice();    // 512 points of 4, 3 bits, 3 shells
const IqLattice& iq2s_lattice();    // 1024 points of 8, 2 bits, 1 shell

// How a quantizer runs the lattice fit (upstream's per-type constants).
struct IqFitOptions {
  int search;          // is = -search..search
  float step;          // id = (2*levels - 1 + is*step)/max
  bool on_grid_start;  // points counted on the grid before any candidate is kept
  bool refit_all;      // re-choose every point at the fitted scale, not only those off the grid
};

// Upstream's lattice fit of a group of n magnitudes xval (iq3, iq2_s and iq2_xs quantizers,
// specs/ggml.md 3.24-3.27), n <= 32 a multiple of the lattice's point size: for each is, id as in
// IqFitOptions, levels l = clamp(nearest_int((id*x - 1)/2), 0, levels-1) per point, an off-grid
// point replaced by its best neighbour (smallest sum sqrt(w)*(s*(2l+1) - x)^2 at s = 1/id, the
// first of equal distances), keeping the candidate with the largest sumqx^2/sumq2 (w = weights,
// q = 2l+1) and its scale sumqx/sumq2. Points left off the grid are then re-chosen at the fitted
// scale (all points where refit_all) and the scale refitted. Writes the n levels (every point on
// the grid) and returns the scale.
float iq_fit_group(const IqLattice& lattice, int n, const float* xval, const float* weight, const IqFitOptions& opt,
                   int* L);

// The iq2_xxs fit (quantize_row_iq2_xxs_impl, which always has importance weights; specs/ggml.md
// 3.23), n <= 32: the scale s0 of make_qp_quants(n, 4, xval,
// weight) sets eff_max = 3*s0; for is = -6..6, id = (5 + 0.1is)/eff_max, levels and best
// neighbours as in iq_fit_group (no on-grid bookkeeping), keeping the largest sumqx^2/sumq2;
// then, when the scale is positive, every point is re-chosen at it and the scale refitted.
// Writes the n levels and returns the scale.
float iq2_imatrix_fit(const IqLattice& lattice, int n, const float* xval, const float* weight, int* L);

// Signs taken out with even parity (iq2_xxs, iq2_xs, iq3_xxs; specs/ggml.md 3.22): for each
// of `groups` 8-element groups of xb, xval = |x| and sign bit i set for a negative element; when
// an odd number is negative, the element of smallest w*x^2 (the first of equals) keeps its sign
// (its xval becomes -|x|) and its bit flips, so the 7 stored bits (signs[k]) imply the 8th.
void even_parity_signs(const float* xb, const float* weight, int groups, float* xval, uint32_t* signs);

}  // namespace qb::ggml
