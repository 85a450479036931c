/* fp_gemm.c: the blocked GEMM frame of fastprop (contract in fp_gemm.h).
 *
 * BLIS-style: five loops around a register-tile micro-kernel (fp_gemm_kernels.h):
 *
 *   for jc in N by NC:                  B panel KC x NC packed once, shared by all threads
 *     for pc in K by KC:                (beta and bias are applied at pc == 0 only)
 *       pack op(B)[pc:pc+KC, jc:jc+NC] into NR-wide micro-panels (threads split the panels;
 *       when the threads split columns only and N <= NC, each packs just its own panels and
 *       no barrier is needed)
 *       for ic in (this thread's rows) by MC:
 *         pack op(A)[ic:ic+MC, pc:pc+KC] into MR-tall micro-panels (per-thread buffer)
 *         for jr in (this thread's columns) by NR:    (AVX-512: these two loops swapped,
 *           for ir by MR:  micro-kernel on one       see a_outer below)
 *                          MR x NR tile of C
 *
 * Transposes are absorbed by the packing routines. Edge tiles (m < MR or n < NR) are packed
 * with zero padding and the kernel runs on a private MR x NR copy of the tile, so the
 * arithmetic is the same as for interior tiles. Threads split C over rows and columns in
 * whole MR/NR tiles, never over K, so every element of C is computed by the same sequence of
 * operations whatever the thread count.
 *
 * Small products skip packing ("sup" path, single thread). Which ISA runs is decided once,
 * at the first call: AVX-512 micro-kernels and small-operand path when the CPU has avx512f
 * (with the AVX2 packing), else AVX2+FMA when it has both, else the portable C.
 * FASTPROP_GEMM_ISA=avx2 or =generic caps the choice (tests compare the paths).
 *
 * Buffers: every thread keeps its packing buffers in the runtime's per-thread slots
 * (csrc/runtime/fp_runtime.h), allocated at its first call at their maximal size (from the
 * block-size table), never grown, freed at thread exit.
 *
 * The dtype-specific part is written once, in fp_gemm_frame.inc, and instantiated at the end
 * of this file for double and float as every template of csrc/ is: fp_type.h, then the
 * template.
 */

#include "fp_gemm_kernels.h"
#include "fp_parallel.h"
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- tuning constants of the frame (block sizes are in fp_gemm_kernels.h) --------------
 * FP_GEMM_SUP_MAX_MNK : products with M*N*K at most this go through the no-packing path.
 * FP_GEMM_SUP_MAX_N   : products with N at most this too (the packed path would pad N to NR).
 * FP_GEMM_SUP_TBUF    : max K*N elements of a transposed B copied for the no-packing path
 *                       (beyond it the copy costs more than packing saves).
 * FP_GEMM_PAR_MIN_MNK : products with M*N*K below this run on one thread.
 * (set with csrc/tests/gemm_check.c's bench modes; host: docs/tuning.md) */
#ifndef FP_GEMM_SUP_MAX_MNK
#define FP_GEMM_SUP_MAX_MNK ((double)(120 * 120 * 120))
#endif
#define FP_GEMM_SUP_MAX_N   8          /* ... and products with N <= 8 (any M, K) */
#ifndef FP_GEMM_PAR_MIN_MNK
#define FP_GEMM_PAR_MIN_MNK ((double)(120 * 120 * 120))
#endif
#define FP_GEMM_SUP_TBUF    (16 * 1024)
/* FP_GEMM_SMALLM_MAX_M: products of at most this many rows with B not transposed (the
 *                       forward pass's X W at batch 1..few) that are too big for the
 *                       no-packing path go through it anyway, once per KC block of K
 *                       (fp_gemm_frame.inc, gemm_smallm): packing op(B) would cost more than
 *                       the few rows' product. */
#ifndef FP_GEMM_SMALLM_MAX_M
#define FP_GEMM_SMALLM_MAX_M 16
#endif
/* Test/tuning knobs, read once with the ISA (fp_runtime.h): FASTPROP_GEMM_SUP_MNK=<x> and
 * FASTPROP_GEMM_PAR_MNK=<x> replace the two thresholds above (0 disables the no-packing path,
 * the few-row one included; 0 parallelises every packed product). Used by
 * csrc/tests/gemm_check.c. */

/* Every row of the table: MC a multiple of MR, NC of NR (the packed buffers, sized MC x KC and
 * KC x NC, hold whole zero-padded panels only then). Checked here for -D overrides too. */
#define FP_BLK_TILES_OK_(mr, nr, mc, kc, nc) ((mc) % (mr) == 0 && (nc) % (nr) == 0 && (kc) > 0)
#define FP_BLK_TILES_OK(...) FP_BLK_TILES_OK_(__VA_ARGS__)
_Static_assert(FP_BLK_TILES_OK(FP_BLK_AVX512_D) && FP_BLK_TILES_OK(FP_BLK_AVX512_S)
               && FP_BLK_TILES_OK(FP_BLK_AVX2_D) && FP_BLK_TILES_OK(FP_BLK_AVX2_S)
               && FP_BLK_TILES_OK(FP_BLK_GENERIC_D) && FP_BLK_TILES_OK(FP_BLK_GENERIC_S),
               "a row of the block-size table has MC not a multiple of MR or NC not of NR");

#define FP_GEMM_MAX_MR 12   /* bounds of every MR / NR in the table (edge-tile buffers) */
#define FP_GEMM_MAX_NR 32
#if FP_AVX512_D_MR > FP_GEMM_MAX_MR || FP_AVX512_S_MR > FP_GEMM_MAX_MR                        \
    || FP_AVX512_D_NR > FP_GEMM_MAX_NR || FP_AVX512_S_NR > FP_GEMM_MAX_NR
#error "a register tile of the block-size table exceeds FP_GEMM_MAX_MR/NR"
#endif
#if FP_AVX2_D_MR > FP_GEMM_MAX_MR || FP_AVX2_S_MR > FP_GEMM_MAX_MR || FP_GEN_D_MR > FP_GEMM_MAX_MR \
    || FP_GEN_S_MR > FP_GEMM_MAX_MR || FP_AVX2_D_NR > FP_GEMM_MAX_NR                            \
    || FP_AVX2_S_NR > FP_GEMM_MAX_NR || FP_GEN_D_NR > FP_GEMM_MAX_NR || FP_GEN_S_NR > FP_GEMM_MAX_NR
#error "a register tile of the block-size table exceeds FP_GEMM_MAX_MR/NR"
#endif

#if defined(_MSC_VER) && !defined(__clang__)
#define FP_INLINE __forceinline
#else
#define FP_INLINE inline __attribute__((always_inline))
#endif

/* The packing buffers of each thread: fp_runtime.h's per-thread slots, float64 first. */
enum { FP_SLOT_A = 0, FP_SLOT_B = 1, FP_SLOT_T = 2, FP_SLOTS_PER_DT = 3 };
#if 2 * FP_SLOTS_PER_DT > FP_SLOT_GEMM_COUNT
#error "the GEMM needs more per-thread slots than fp_runtime.h gives it"
#endif

/* The two thresholds above, or their replacements from the environment (fp_runtime.h). */
static double fp_gemm_sup_max_mnk(void)
{
    const double e = fp_env_gemm_sup_mnk();
    return e >= 0 ? e : FP_GEMM_SUP_MAX_MNK;
}

static double fp_gemm_par_min_mnk(void)
{
    const double e = fp_env_gemm_par_mnk();
    return e >= 0 ? e : FP_GEMM_PAR_MIN_MNK;
}

/* Thread grid for nth threads: tm x tn with tm*tn == nth, minimising the tiles of the
 * busiest thread. Ties go to the fewest row blocks, columns only (tm == 1) when that is among
 * them: every thread then packs just the B panels it reads and the team never waits at a
 * barrier, which matters most when the host is busy and a waiting thread holds a core its
 * partner needs. */
static void fp_gemm_grid(int nth, fp_idx mtiles, fp_idx ntiles, int *tm, int *tn)
{
    fp_idx best = -1;
    *tm = 1; *tn = nth;
    for (int a = 1; a <= nth; a++) {
        if (nth % a) continue;
        const int b = nth / a;
        const fp_idx cost = ((mtiles + a - 1) / a) * ((ntiles + b - 1) / b);
        if (best < 0 || cost < best) { best = cost; *tm = a; *tn = b; }
    }
}

/* ---- instantiate the dtype-specific part ------------------------------------------------ */
#define FP_DOUBLE
#include "fp_type.h"
#define UKR_T fp_dgemm_ukr_t
#define SUP_T fp_dgemm_sup_t
#define BLK_GENERIC FP_BLK_GENERIC_D
#define BLK_AVX2 FP_BLK_AVX2_D
#define BLK_AVX512 FP_BLK_AVX512_D
#define UKR_AVX512 fp_dgemm_avx512_12x16
#define SUP_AVX512 fp_dgemm_sup_avx512
#define PACK_AN_AVX512 fp_dgemm_avx2_pack_a_n12
#define PACK_BT_AVX512 fp_dgemm_avx2_pack_b_t16
#define UKR_GENERIC fp_dgemm_generic_4x4
#define SUP_GENERIC fp_dgemm_sup_generic
#define UKR_AVX2 fp_dgemm_avx2_6x8
#define SUP_AVX2 fp_dgemm_sup_avx2
#define PACK_T fp_dgemm_pack_t
#define PACK_AN_AVX2 fp_dgemm_avx2_pack_a_n6
#define PACK_BT_AVX2 fp_dgemm_avx2_pack_b_t8
#define TR_T fp_dgemm_tr_t
#define TR_AVX2 fp_dgemm_avx2_tr
#define DT_SLOT0 0
#include "fp_gemm_frame.inc"
#undef UKR_T
#undef SUP_T
#undef BLK_GENERIC
#undef BLK_AVX2
#undef BLK_AVX512
#undef UKR_AVX512
#undef SUP_AVX512
#undef PACK_AN_AVX512
#undef PACK_BT_AVX512
#undef UKR_GENERIC
#undef SUP_GENERIC
#undef UKR_AVX2
#undef SUP_AVX2
#undef PACK_T
#undef PACK_AN_AVX2
#undef PACK_BT_AVX2
#undef TR_T
#undef TR_AVX2
#undef DT_SLOT0

#undef FP_DOUBLE
#include "fp_type.h"
#define UKR_T fp_sgemm_ukr_t
#define SUP_T fp_sgemm_sup_t
#define BLK_GENERIC FP_BLK_GENERIC_S
#define BLK_AVX2 FP_BLK_AVX2_S
#define BLK_AVX512 FP_BLK_AVX512_S
#define UKR_AVX512 fp_sgemm_avx512_12x32
#define SUP_AVX512 fp_sgemm_sup_avx512
#define PACK_AN_AVX512 fp_sgemm_avx2_pack_a_n12
#define PACK_BT_AVX512 fp_sgemm_avx2_pack_b_t32
#define UKR_GENERIC fp_sgemm_generic_4x8
#define SUP_GENERIC fp_sgemm_sup_generic
#define UKR_AVX2 fp_sgemm_avx2_6x16
#define SUP_AVX2 fp_sgemm_sup_avx2
#define PACK_T fp_sgemm_pack_t
#define PACK_AN_AVX2 fp_sgemm_avx2_pack_a_n6
#define PACK_BT_AVX2 fp_sgemm_avx2_pack_b_t16
#define TR_T fp_sgemm_tr_t
#define TR_AVX2 fp_sgemm_avx2_tr
#define DT_SLOT0 FP_SLOTS_PER_DT
#include "fp_gemm_frame.inc"

