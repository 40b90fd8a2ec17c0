/* The branch-free chunk pre-pass of _circles._row_step, two cells at a time.
 *
 * Each lane computes the same IEEE operations, in the same order, as the scalar test below
 * (no fused multiply-adds: the build passes -ffp-contract=off), so the results are the same
 * bits; SSE2 is part of every x86-64 processor, and other processors run the scalar loop.
 * (GCC does not vectorise this loop itself at the x86-64 baseline: measured, 3-motif fit 4.9 -> 4.45 s.)
 * A 32-bit x86 build whose scalar code rounds in x87 extended precision could list other cells
 * near a test's boundary; the hull's margin keeps those cells from binding either way. */
#ifndef SEISM_CHUNK_PREPASS_H
#define SEISM_CHUNK_PREPASS_H

#include <math.h>
/* Py_ssize_t: included after Python.h, as every Cython module includes it first */
#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#define SEISM_SSE2 1
#include <emmintrin.h>
#endif

/* Whether a cell fails both of a side's skips (_circles._side_cell), without branches.
 *
 * Both against the floor less the margin: the floor, computed, may fall by a few units in the
 * last place as the intervals shrink (it only rises in exact arithmetic), and the pre-pass runs
 * at the floor of the chunk's start. */
static inline int seism_side_needs(double hull_floor, double cm, double sm, double spread,
                                   double ac, double bc, double gc)
{
    double r2 = bc * bc + gc * gc;
    double room = hull_floor - fabs(ac);
    double centre = ac + bc * cm + gc * sm;
    double hull_room = hull_floor - fabs(centre);
    return ((room < 0.0) | (room * room < r2)) & ((hull_room < 0.0) | (hull_room * hull_room < spread * r2));
}

#if defined(SEISM_SSE2)
/* seism_side_needs for two cells: all bits set in the lanes of the cells that fail both skips. */
static inline __m128d seism_side_needs_2(__m128d hull_floor, __m128d cm, __m128d sm, __m128d spread,
                                         __m128d ac, __m128d bc, __m128d gc)
{
    const __m128d sign = _mm_set1_pd(-0.0), zero = _mm_setzero_pd();
    __m128d r2 = _mm_add_pd(_mm_mul_pd(bc, bc), _mm_mul_pd(gc, gc));
    __m128d room = _mm_sub_pd(hull_floor, _mm_andnot_pd(sign, ac));
    __m128d centre = _mm_add_pd(_mm_add_pd(ac, _mm_mul_pd(bc, cm)), _mm_mul_pd(gc, sm));
    __m128d hull_room = _mm_sub_pd(hull_floor, _mm_andnot_pd(sign, centre));
    return _mm_and_pd(_mm_or_pd(_mm_cmplt_pd(room, zero), _mm_cmplt_pd(_mm_mul_pd(room, room), r2)),
                      _mm_or_pd(_mm_cmplt_pd(hull_room, zero),
                                _mm_cmplt_pd(_mm_mul_pd(hull_room, hull_room), _mm_mul_pd(spread, r2))));
}
#endif

/* Write into listed[] the positions first + i (0 <= i < n) of the cells that either side needs; their count.
 * side[] holds each side's hull_floor, cm, sm, spread (plus side, then minus side). */
static inline Py_ssize_t seism_chunk_needs(const double* alpha, const double* beta, const double* gamma,
                                           Py_ssize_t first, Py_ssize_t n, const double* side, Py_ssize_t* listed)
{
    Py_ssize_t i = 0, count = 0;
    const double *a = alpha + first, *b = beta + first, *g = gamma + first;
#if defined(SEISM_SSE2)
    const __m128d hp = _mm_set1_pd(side[0]), cp = _mm_set1_pd(side[1]), sp = _mm_set1_pd(side[2]),
                  wp = _mm_set1_pd(side[3]);
    const __m128d hm = _mm_set1_pd(side[4]), cm = _mm_set1_pd(side[5]), sm = _mm_set1_pd(side[6]),
                  wm = _mm_set1_pd(side[7]);
    for (; i + 2 <= n; i += 2) {
        __m128d ac = _mm_loadu_pd(a + i), bc = _mm_loadu_pd(b + i), gc = _mm_loadu_pd(g + i);
        int mask = _mm_movemask_pd(_mm_or_pd(seism_side_needs_2(hp, cp, sp, wp, ac, bc, gc),
                                             seism_side_needs_2(hm, cm, sm, wm, ac, bc, gc)));
        listed[count] = first + i;
        count += mask & 1;
        listed[count] = first + i + 1;
        count += (mask >> 1) & 1;
    }
#endif
    for (; i < n; i++) {
        listed[count] = first + i;
        count += seism_side_needs(side[0], side[1], side[2], side[3], a[i], b[i], g[i])
                 | seism_side_needs(side[4], side[5], side[6], side[7], a[i], b[i], g[i]);
    }
    return count;
}


#endif
