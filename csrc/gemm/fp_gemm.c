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
 * The dtype-specific part is written once, below the #else, and instantiated twice by
 * including this file into itself (FP_GEMM_TMPL).
 */
#ifndef FP_GEMM_TMPL

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
/* Test/tuning knobs, read once with the ISA (fp_runtime.h): FASTPROP_GEMM_SUP_MNK=<x> and
 * FASTPROP_GEMM_PAR_MNK=<x> replace the two thresholds above (0 disables the no-packing path;
 * 0 parallelises every packed product). Used by csrc/tests/gemm_check.c. */

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
#define FP_GEMM_TMPL 1

#define T double
#define P(x) fp_d##x
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
#include "fp_gemm.c"
#undef T
#undef P
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

#define T float
#define P(x) fp_s##x
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
#include "fp_gemm.c"

#else /* ================= FP_GEMM_TMPL: dtype-specific part (T, P(x), ...) ================ */

typedef struct {
    fp_gemm_blk blk;
    UKR_T ukr;
    SUP_T sup;
    PACK_T pack_an;   /* full MR-row panel of A (not transposed), or NULL */
    PACK_T pack_bt;   /* full NR-row panel of B^T, or NULL */
    TR_T tr;          /* transposed copy of B for the no-packing path, or NULL */
    /* order of the two innermost loops: 0, jr outer (a B micro-panel stays in L1 while the
     * A block streams from L2); 1, ir outer (an A micro-panel stays in L1 while the B panel
     * streams through L2). The AVX-512 rows are faster with ir outer; the AVX2 rows (NC 4080:
     * a panel of 4 MiB float32, 8 MiB float64) keep jr outer, as they were tuned (figures and
     * hosts: docs/tuning.md). Same bits: only the order of the tiles changes. */
    int a_outer;
} P(gemm_cfg);

static const P(gemm_cfg) P(gemm_cfg_generic) = { { BLK_GENERIC }, UKR_GENERIC, SUP_GENERIC,
                                                 NULL, NULL, NULL, 0 };
#if FP_GEMM_HAVE_X86
static const P(gemm_cfg) P(gemm_cfg_avx2) = { { BLK_AVX2 }, UKR_AVX2, SUP_AVX2,
                                              PACK_AN_AVX2, PACK_BT_AVX2, TR_AVX2, 0 };
static const P(gemm_cfg) P(gemm_cfg_avx512) = { { BLK_AVX512 }, UKR_AVX512, SUP_AVX512,
                                                PACK_AN_AVX512, PACK_BT_AVX512, TR_AVX2, 1 };
#endif

static const P(gemm_cfg) *P(gemm_config)(void)
{
#if FP_GEMM_HAVE_X86
    if (fp_isa() == FP_ISA_AVX512) return &P(gemm_cfg_avx512);
    if (fp_isa() == FP_ISA_AVX2) return &P(gemm_cfg_avx2);
#endif
    return &P(gemm_cfg_generic);
}

/* this thread's buffer: FP_SLOT_A (MC x KC packed op(A)), FP_SLOT_B (KC x NC packed op(B),
 * shared with the team), FP_SLOT_T (transposed B of the no-packing path) */
static T *P(gemm_buf)(int slot, size_t elems)
{
    return (T *)fp_thread_buffer(FP_SLOT_GEMM + slot + DT_SLOT0, elems * sizeof(T));
}

/* C = beta*C (+ bias) for K == 0 */
static void P(gemm_scale)(fp_idx M, fp_idx N, T beta, T *C, fp_idx ldc, const T *bias)
{
    for (fp_idx i = 0; i < M; i++) {
        T *ci = C + i * ldc;
        if (beta == 0) for (fp_idx j = 0; j < N; j++) ci[j] = 0;
        else for (fp_idx j = 0; j < N; j++) ci[j] = beta * ci[j];
        if (bias) for (fp_idx j = 0; j < N; j++) ci[j] += bias[j];
    }
}

/* Packing. The register tile sizes are run-time values of the table, so the copies are
 * written once with a compile-time width (FP_INLINE + constant argument) and dispatched with
 * a switch over the widths in the table; the default case handles any other width. */

/* MRC rows of op(A) = A (not transposed), k columns -> one micro-panel d[p*MRC + i].
 * Reads MRC row streams in parallel, writes the panel sequentially. */
static FP_INLINE void P(gemm_pack_a_n)(const int MRC, fp_idx k, const T *s, fp_idx lda, T *d)
{
    for (fp_idx p = 0; p < k; p++)
        for (int i = 0; i < MRC; i++) d[p * MRC + i] = s[i * lda + p];
}

/* MRC columns of A (op(A) = A^T): row p of A holds op(A)[.., p] contiguously. */
static FP_INLINE void P(gemm_pack_a_t)(const int MRC, fp_idx k, const T *s, fp_idx lda, T *d)
{
    /* memcpy of a constant size becomes vector moves; the element loop stayed scalar */
    for (fp_idx p = 0; p < k; p++) memcpy(d + p * MRC, s + p * lda, (size_t)MRC * sizeof(T));
}

/* Pack op(A)[i0:i0+m, p0:p0+k] into MR-tall micro-panels: panel r holds rows r*MR.., with
 * element (i, p) at panel[p*MR + i]; rows beyond m are zero. */
static void P(gemm_pack_a)(int trans_a, fp_idx m, fp_idx k, const T *A, fp_idx lda,
                           fp_idx i0, fp_idx p0, int mr, PACK_T pack_an, T *dst)
{
    fp_idx r = 0;
    for (; r + mr <= m; r += mr) {
        T *d = dst + r * k;
        if (!trans_a) {
            const T *s = A + (i0 + r) * lda + p0;
            if (pack_an) { pack_an(k, s, lda, d); continue; }
            switch (mr) {
            case 6: P(gemm_pack_a_n)(6, k, s, lda, d); break;
            case 4: P(gemm_pack_a_n)(4, k, s, lda, d); break;
            default: P(gemm_pack_a_n)(mr, k, s, lda, d); break;
            }
        } else {
            const T *s = A + p0 * lda + i0 + r;
            switch (mr) {
            case 12: P(gemm_pack_a_t)(12, k, s, lda, d); break;
            case 6: P(gemm_pack_a_t)(6, k, s, lda, d); break;
            case 4: P(gemm_pack_a_t)(4, k, s, lda, d); break;
            default: P(gemm_pack_a_t)(mr, k, s, lda, d); break;
            }
        }
    }
    if (r < m) {   /* edge panel, zero-padded */
        const fp_idx mm = m - r;
        T *d = dst + r * k;
        for (fp_idx p = 0; p < k; p++) {
            T *dp = d + p * mr;
            fp_idx i = 0;
            if (!trans_a) for (; i < mm; i++) dp[i] = A[(i0 + r + i) * lda + p0 + p];
            else for (; i < mm; i++) dp[i] = A[(p0 + p) * lda + i0 + r + i];
            for (; i < mr; i++) dp[i] = 0;
        }
    }
}

/* One row p of the B panel (op(B) = B): n contiguous values of B go to the NRC-wide
 * micro-panels, each panel being k*NRC long; the last panel is zero-padded. */
static FP_INLINE void P(gemm_pack_b_row)(const int NRC, fp_idx n, fp_idx k, const T *s, T *d)
{
    fp_idx j = 0;
    for (; j + NRC <= n; j += NRC, d += k * NRC) memcpy(d, s + j, (size_t)NRC * sizeof(T));
    if (j < n) {
        int t = 0;
        for (; t < n - j; t++) d[t] = s[j + t];
        for (; t < NRC; t++) d[t] = 0;
    }
}

/* One micro-panel of op(B) = B^T: column j of the panel is row j0+j of B (contiguous in p). */
static FP_INLINE void P(gemm_pack_b_t)(const int NRC, fp_idx n, fp_idx k, const T *s,
                                       fp_idx ldb, T *d)
{
    if (n == NRC) {
        for (fp_idx p = 0; p < k; p++)
            for (int j = 0; j < NRC; j++) d[p * NRC + j] = s[j * ldb + p];
    } else {
        for (fp_idx p = 0; p < k; p++) {
            int j = 0;
            for (; j < n; j++) d[p * NRC + j] = s[j * ldb + p];
            for (; j < NRC; j++) d[p * NRC + j] = 0;
        }
    }
}

/* Thread tid of nth packs its share of op(B)[p0:p0+k, j0:j0+n] into NR-wide micro-panels
 * (panel t at dst + t*k*NR, element (p, j) at p*NR + j). B not transposed: split by rows p,
 * reading whole rows of B sequentially; transposed: split by micro-panels. */
static void P(gemm_pack_b)(int trans_b, fp_idx n, fp_idx k, const T *B, fp_idx ldb,
                           fp_idx p0, fp_idx j0, int nr, PACK_T pack_bt, T *dst, int tid,
                           int nth)
{
    if (!trans_b) {
        const fp_idx pb = k * tid / nth, pe = k * (tid + 1) / nth;
        for (fp_idx p = pb; p < pe; p++) {
            const T *s = B + (p0 + p) * ldb + j0;
            T *d = dst + p * nr;
            switch (nr) {
            case 32: P(gemm_pack_b_row)(32, n, k, s, d); break;
            case 16: P(gemm_pack_b_row)(16, n, k, s, d); break;
            case 8: P(gemm_pack_b_row)(8, n, k, s, d); break;
            case 4: P(gemm_pack_b_row)(4, n, k, s, d); break;
            default: P(gemm_pack_b_row)(nr, n, k, s, d); break;
            }
        }
    } else {
        const fp_idx ntl = (n + nr - 1) / nr;
        for (fp_idx jt = tid; jt < ntl; jt += nth) {
            const fp_idx jj = jt * nr, nn = n - jj < nr ? n - jj : nr;
            const T *s = B + (j0 + jj) * ldb + p0;
            T *d = dst + jj * k;
            if (pack_bt && nn == nr) { pack_bt(k, s, ldb, d); continue; }
            switch (nr) {
            case 32: P(gemm_pack_b_t)(32, nn, k, s, ldb, d); break;
            case 16: P(gemm_pack_b_t)(16, nn, k, s, ldb, d); break;
            case 8: P(gemm_pack_b_t)(8, nn, k, s, ldb, d); break;
            case 4: P(gemm_pack_b_t)(4, nn, k, s, ldb, d); break;
            default: P(gemm_pack_b_t)(nr, nn, k, s, ldb, d); break;
            }
        }
    }
}

typedef struct {
    const P(gemm_cfg) *cfg;
    int ta, tb;
    fp_idx M, N, K;
    T alpha, beta;
    const T *A, *B, *bias;
    fp_idx lda, ldb, ldc;
    T *C;
    T *bbuf;     /* shared packed B panel */
} P(gemm_ctx);

/* One thread's share of the five loops. Called by every thread of the team (or alone). */
static void P(gemm_run)(const P(gemm_ctx) *x, int tid, int nth, T *abuf)
{
    const fp_gemm_blk *bs = &x->cfg->blk;
    const int mr = bs->mr, nr = bs->nr;
    const fp_idx MC = bs->mc, KC = bs->kc, NC = bs->nc;
    const UKR_T ukr = x->cfg->ukr;
    const fp_idx M = x->M, N = x->N, K = x->K;
    T *const bbuf = x->bbuf;

    /* rows of C for this thread, in whole MR tiles (only the last thread gets the edge) */
    const fp_idx mtiles = (M + mr - 1) / mr;
    const fp_idx nc0 = N < NC ? N : NC;
    int tm, tn;
    fp_gemm_grid(nth, mtiles, (nc0 + nr - 1) / nr, &tm, &tn);
    const int ti = tid / tn, tj = tid % tn;
    /* one column block split by columns only: each thread packs its own panels (whose place
     * then never changes), and nobody waits at a barrier */
    const int shared_b = nth > 1 && (tm > 1 || N > NC);
    const fp_idx i_beg = mtiles * ti / tm * mr;
    fp_idx i_end = mtiles * (ti + 1) / tm * mr;
    if (i_end > M) i_end = M;

    T ct[FP_GEMM_MAX_MR * FP_GEMM_MAX_NR];   /* edge tile of C */
    T zb[FP_GEMM_MAX_NR];                    /* edge piece of bias */

    for (fp_idx jc = 0; jc < N; jc += NC) {
        const fp_idx ncur = N - jc < NC ? N - jc : NC;
        const fp_idx ntl = (ncur + nr - 1) / nr;
        const fp_idx jt_beg = ntl * tj / tn, jt_end = ntl * (tj + 1) / tn;

        for (fp_idx pc = 0; pc < K; pc += KC) {
            const fp_idx kcur = K - pc < KC ? K - pc : KC;
            const T beta = pc == 0 ? x->beta : (T)1;
            const T *bias = pc == 0 ? x->bias : NULL;

            if (shared_b) {   /* the team packs the shared B panel together */
                P(gemm_pack_b)(x->tb, ncur, kcur, x->B, x->ldb, pc, jc, nr, x->cfg->pack_bt,
                               bbuf, tid, nth);
#ifdef _OPENMP
#pragma omp barrier
#endif
            } else if (jt_beg < jt_end) {
                /* this thread's panels only, at a place that does not depend on kcur (so no
                 * other thread's panels of another block overlap them) */
                const fp_idx j0 = jt_beg * nr;
                const fp_idx nn = (jt_end * nr < ncur ? jt_end * nr : ncur) - j0;
                P(gemm_pack_b)(x->tb, nn, kcur, x->B, x->ldb, pc, jc + j0, nr, x->cfg->pack_bt,
                               bbuf + j0 * KC, 0, 1);
            }
            /* panel jt of this block starts at bblk + jt * nr * kcur */
            T *const bblk = shared_b ? bbuf : bbuf + jt_beg * nr * (KC - kcur);
            for (fp_idx ic = i_beg; ic < i_end; ic += MC) {
                const fp_idx mcur = i_end - ic < MC ? i_end - ic : MC;
                if (jt_beg >= jt_end) break;
                P(gemm_pack_a)(x->ta, mcur, kcur, x->A, x->lda, ic, pc, mr, x->cfg->pack_an, abuf);

                /* tiles (ir, jt) in the configuration's order (a_outer) */
                const fp_idx n_ir = (mcur + mr - 1) / mr, n_jt = jt_end - jt_beg;
                const int a_outer = x->cfg->a_outer;
                for (fp_idx o = 0; o < (a_outer ? n_ir : n_jt); o++) {
                    for (fp_idx t = 0; t < (a_outer ? n_jt : n_ir); t++) {
                        const fp_idx jt = jt_beg + (a_outer ? t : o), ir = (a_outer ? o : t) * mr;
                        const fp_idx j0 = jt * nr, nn = ncur - j0 < nr ? ncur - j0 : nr;
                        const T *bp = bblk + j0 * kcur;
                        const T *biasj = bias ? bias + jc + j0 : NULL;
                        const fp_idx mm = mcur - ir < mr ? mcur - ir : mr;
                        const T *ap = abuf + ir * kcur;
                        T *cp = x->C + (ic + ir) * x->ldc + jc + j0;
                        if (mm == mr && nn == nr) {
                            ukr(kcur, x->alpha, ap, bp, beta, cp, x->ldc, biasj);
                        } else {
                            /* edge: run the kernel on a private copy of the tile */
                            const T *bz = NULL;
                            if (beta != 0)
                                for (fp_idx i = 0; i < mm; i++)
                                    for (fp_idx j = 0; j < nn; j++)
                                        ct[i * nr + j] = cp[i * x->ldc + j];
                            if (biasj) {
                                fp_idx j = 0;
                                for (; j < nn; j++) zb[j] = biasj[j];
                                for (; j < nr; j++) zb[j] = 0;
                                bz = zb;
                            }
                            ukr(kcur, x->alpha, ap, bp, beta, ct, nr, bz);
                            for (fp_idx i = 0; i < mm; i++)
                                for (fp_idx j = 0; j < nn; j++)
                                    cp[i * x->ldc + j] = ct[i * nr + j];
                        }
                    }
                }
            }
#ifdef _OPENMP
            /* nobody repacks B before everyone is done with it (not needed after the last
             * panel: the end of the parallel region waits anyway) */
            if (shared_b && (pc + KC < K || jc + NC < N)) {
#pragma omp barrier
            }
#endif
        }
    }
}

/* Thread-count-independent choice of the no-packing path. */
static void P(gemm_sup)(const P(gemm_cfg) *cfg, int ta, int tb, fp_idx M, fp_idx N, fp_idx K,
                        T alpha, const T *A, fp_idx lda, const T *B, fp_idx ldb, T beta,
                        T *C, fp_idx ldc, const T *bias, T *tbuf)
{
    if (tb) {   /* op(B) = B^T: copy it to a K x N row-major scratch */
        if (cfg->tr) cfg->tr(N, K, B, ldb, tbuf);
        else
            for (fp_idx p = 0; p < K; p++)
                for (fp_idx j = 0; j < N; j++) tbuf[p * N + j] = B[j * ldb + p];
        B = tbuf; ldb = N;
    }
    cfg->sup(ta, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
}

void P(gemm)(int trans_a, int trans_b, fp_idx M, fp_idx N, fp_idx K,
             T alpha, const T *A, fp_idx lda, const T *B, fp_idx ldb,
             T beta, T *C, fp_idx ldc, const T *bias)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { P(gemm_scale)(M, N, beta, C, ldc, bias); return; }

    const P(gemm_cfg) *cfg = P(gemm_config)();   /* also reads the knobs, once */
    const double mnk = (double)M * (double)N * (double)K;

    if ((mnk <= fp_gemm_sup_max_mnk() || (N <= FP_GEMM_SUP_MAX_N && fp_gemm_sup_max_mnk() > 0))
        && (!trans_b || K * N <= FP_GEMM_SUP_TBUF)) {
        T *tbuf = NULL;
        if (trans_b && !(tbuf = P(gemm_buf)(FP_SLOT_T, FP_GEMM_SUP_TBUF))) goto fallback;
        P(gemm_sup)(cfg, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                    bias, tbuf);
        return;
    }

    {
        const fp_gemm_blk *bs = &cfg->blk;
        const size_t ncr = (size_t)((bs->nc + bs->nr - 1) / bs->nr) * (size_t)bs->nr;
        T *bbuf = P(gemm_buf)(FP_SLOT_B, (size_t)bs->kc * ncr);
        T *abuf = P(gemm_buf)(FP_SLOT_A, (size_t)bs->mc * (size_t)bs->kc);
        if (!bbuf || !abuf) goto fallback;

        P(gemm_ctx) x;
        x.cfg = cfg; x.ta = trans_a; x.tb = trans_b;
        x.M = M; x.N = N; x.K = K; x.alpha = alpha; x.beta = beta;
        x.A = A; x.B = B; x.bias = bias; x.lda = lda; x.ldb = ldb; x.ldc = ldc;
        x.C = C; x.bbuf = bbuf;

        int nt = fp_get_num_threads();
        if (mnk < fp_gemm_par_min_mnk()) nt = 1;
#ifdef _OPENMP
        if (nt > 1) {
            int failed = 0;
#pragma omp parallel num_threads(nt) shared(x, failed)
            {
                const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
                T *ab = tid == 0 ? abuf : P(gemm_buf)(FP_SLOT_A, (size_t)bs->mc * (size_t)bs->kc);
                int bad = ab == NULL;
                /* every thread must agree before anyone waits at the packing barriers */
#pragma omp atomic
                failed += bad;
#pragma omp barrier
                if (!failed) P(gemm_run)(&x, tid, nth, ab);
            }
            if (failed) goto fallback;
            return;
        }
#endif
        (void)nt;
        P(gemm_run)(&x, 0, 1, abuf);
        return;
    }

fallback:   /* out of memory for the packing buffers: still give the right answer */
    P(gemm_ref)(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
}

#endif /* FP_GEMM_TMPL */
