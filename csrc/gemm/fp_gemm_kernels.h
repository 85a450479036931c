/* fp_gemm_kernels.h: the micro-kernel contract of fastprop's GEMM and the block-size table.
 *
 * Internal header (not part of the public contract in fp_gemm.h). The frame (fp_gemm.c) runs
 * the five BLIS loops (jc over N by NC, pc over K by KC, ic over M by MC, jr by NR, ir by MR;
 * the AVX-512 rows swap the last two, see a_outer in fp_gemm.c) and calls one micro-kernel per MR x NR tile of C. Micro-kernels live in fp_gemm_avx512.c
 * and fp_gemm_avx2.c (x86 only, compiled with function-level target("avx512f") /
 * target("avx2,fma"), never -mavx512f/-mavx2 on the command line) and fp_gemm_generic.c
 * (portable C).
 *
 * Packed formats (produced by the frame's packing routines, consumed by the micro-kernels):
 *   packed A micro-panel: k x MR values, stored "column of op(A) by column": element
 *       op(A)[i][p] of the panel is at a[p*MR + i]. Rows i >= m (edge panels) are zero.
 *   packed B micro-panel: k x NR values, stored row by row: op(B)[p][j] is at b[p*NR + j].
 *       Columns j >= n (edge panels) are zero.
 *   Both are 64-byte aligned at the start of every packed block; a micro-panel is MR*k or NR*k
 *   elements, so later panels are aligned to the element size only (kernels use unaligned
 *   loads).
 *
 * Every exported symbol starts with fp_. All sizes are in elements.
 */
#ifndef FP_GEMM_KERNELS_H
#define FP_GEMM_KERNELS_H

#include "fp_gemm.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define FP_GEMM_HAVE_X86 1
#else
#define FP_GEMM_HAVE_X86 0
#endif

/* ------------------------------------------------------------------------------------------
 * Block-size table: ONE row per (ISA, dtype). Nothing else in csrc/ hard-codes these.
 *   MR x NR : register tile of the micro-kernel.
 *   KC      : depth of a packed panel; AVX2 rows: a KC x NR micro-panel of B should sit in
 *             L1 (16 KiB at KC = 256); AVX-512 rows (inner loops swapped, fp_gemm.c a_outer):
 *             an MR x KC micro-panel of A (12 KiB float32, 24 KiB float64).
 *   MC      : rows of the packed A block; MC x KC of A should sit in L2: AVX2 rows 144 KiB,
 *             AVX-512 rows 240 KiB.
 *   NC      : columns of the packed B panel (shared by threads), KC x NC in L3; the AVX-512
 *             rows read it again for every row tile (streamed through L2).
 * MC must be a multiple of MR and NC a multiple of NR.
 * AVX-512 rows assume a 48 KiB L1d and 1-2 MiB of L2 a core: a KC x 32-float (16-double)
 * micro-panel of B is 128 bytes a row; the A block (240 KiB) sits in L2. MC and KC were swept
 * and differed less than the host's noise. NC 4096 float32 / 2048 float64 (a 4 MiB B panel)
 * streams well with ir outer (a_outer, fp_gemm.c); with jr outer a 1 MiB panel was the
 * better. NC changes no bits (only KC orders the sums). AVX2 rows: MC and KC swept alike, all
 * close, the larger KC slightly ahead. The sweeps, their hosts and figures: docs/tuning.md.
 * The -D overrides below are for such sweeps only.
 * ------------------------------------------------------------------------------------------ */
/* Compile-time register tiles (the micro-kernels are written for exactly these). */
#define FP_AVX2_D_MR 6
#define FP_AVX2_D_NR 8
#define FP_AVX2_S_MR 6
#define FP_AVX2_S_NR 16
#define FP_AVX512_D_MR 12
#define FP_AVX512_D_NR 16
#define FP_AVX512_S_MR 12
#define FP_AVX512_S_NR 32
#define FP_GEN_D_MR 4
#define FP_GEN_D_NR 4
#define FP_GEN_S_MR 4
#define FP_GEN_S_NR 8

/* One KC for the AVX-512 and AVX2 rows: an element of C is the sum of its KC-long blocks, so
 * with the same KC (and FMA in ascending k in both kernels) the two paths give the same bits,
 * and a result does not depend on which of the two CPUs computed it (tests/test_kernels.py).
 * 256 keeps the AVX2 B micro-panel (16 KiB) and the AVX-512 A micro-panel (12 KiB float32,
 * 24 KiB float64) in a 48 KiB L1d; a smaller KC was slower for float64, and the AVX2 rows
 * measured the same at 256 as at their own best KC (384 f64, 512 f32), within noise
 * (docs/tuning.md). */
#ifndef FP_SIMD_KC
#define FP_SIMD_KC 256
#endif
/*                                   MR            NR         MC   KC    NC  */
#ifndef FP_BLK_AVX512_D
#define FP_BLK_AVX512_D  FP_AVX512_D_MR, FP_AVX512_D_NR, 120, FP_SIMD_KC, 2048
#endif
#ifndef FP_BLK_AVX512_S
#define FP_BLK_AVX512_S  FP_AVX512_S_MR, FP_AVX512_S_NR, 240, FP_SIMD_KC, 4096
#endif
#ifndef FP_BLK_AVX2_D
#define FP_BLK_AVX2_D    FP_AVX2_D_MR, FP_AVX2_D_NR,  72, FP_SIMD_KC, 4080
#endif
#ifndef FP_BLK_AVX2_S
#define FP_BLK_AVX2_S    FP_AVX2_S_MR, FP_AVX2_S_NR, 144, FP_SIMD_KC, 4080
#endif
#define FP_BLK_GENERIC_D  FP_GEN_D_MR,  FP_GEN_D_NR,  96, 256, 4080
#define FP_BLK_GENERIC_S  FP_GEN_S_MR,  FP_GEN_S_NR,  96, 256, 4080


typedef struct fp_gemm_blk {
    int mr, nr, mc, kc, nc;
} fp_gemm_blk;

/* ------------------------------------------------------------------------------------------
 * Micro-kernel contract (same for every fp_<d|s>gemm_<isa>_<MR>x<NR> kernel):
 *
 *   void ukr(fp_idx k, T alpha, const T *a, const T *b, T beta, T *c, fp_idx ldc,
 *            const T *bias);
 *
 *   Reads : a, a packed micro-panel of op(A), k x MR (layout above);
 *           b, a packed micro-panel of op(B), k x NR (layout above);
 *           c, an MR x NR row-major tile with row stride ldc (unit column stride),
 *              ONLY when beta != 0 (when beta == 0, C is never read: NaN in C is ignored);
 *           bias, NR values, only when bias != NULL.
 *   Writes: c[i*ldc + j] = alpha * sum_{p<k} a[p*MR+i]*b[p*NR+j] + beta*c[i*ldc+j] + bias[j]
 *           for all 0 <= i < MR, 0 <= j < NR (the whole tile: edge tiles are handled by the
 *           frame, which calls the kernel on a private MR x NR buffer and copies back).
 *           The sum is accumulated in p order (ascending k) per element, so results do not
 *           depend on how the frame splits M or N between threads.
 *   k may be 0 (gives beta*c + bias). a and b need not be aligned beyond the element size
 *   (the frame's later panels are not: see the packed formats). No allocation, no global
 *   state.
 * ------------------------------------------------------------------------------------------ */
typedef void (*fp_dgemm_ukr_t)(fp_idx k, double alpha, const double *a, const double *b,
                               double beta, double *c, fp_idx ldc, const double *bias);
typedef void (*fp_sgemm_ukr_t)(fp_idx k, float alpha, const float *a, const float *b,
                               float beta, float *c, fp_idx ldc, const float *bias);

/* ------------------------------------------------------------------------------------------
 * Small-operand ("sup") contract: no packing, one thread, the whole product at once.
 *
 *   void sup(int trans_a, fp_idx M, fp_idx N, fp_idx K, T alpha, const T *A, fp_idx lda,
 *            const T *B, fp_idx ldb, T beta, T *C, fp_idx ldc, const T *bias);
 *
 *   Computes C = alpha*op(A)*B + beta*C (+ bias row vector) with B NOT transposed
 *   (B[k*ldb + j], K x N); the frame copies a transposed B to a K x N scratch first.
 *   op(A) as in fp_gemm.h. Never reads C when beta == 0. K may be 0. Accumulation is in
 *   ascending k per element.
 * ------------------------------------------------------------------------------------------ */
typedef void (*fp_dgemm_sup_t)(int trans_a, fp_idx M, fp_idx N, fp_idx K, double alpha,
                               const double *A, fp_idx lda, const double *B, fp_idx ldb,
                               double beta, double *C, fp_idx ldc, const double *bias);
typedef void (*fp_sgemm_sup_t)(int trans_a, fp_idx M, fp_idx N, fp_idx K, float alpha,
                               const float *A, fp_idx lda, const float *B, fp_idx ldb,
                               float beta, float *C, fp_idx ldc, const float *bias);

/* Packing of one full micro-panel (MR rows of A or NR rows of B^T, row stride ld, k values
 * each) into the packed layout; NULL in a configuration means the frame's portable loop. */
typedef void (*fp_dgemm_pack_t)(fp_idx k, const double *s, fp_idx ld, double *d);
typedef void (*fp_sgemm_pack_t)(fp_idx k, const float *s, fp_idx ld, float *d);
/* Transposed copy of n rows of k values (row stride ld) into a k x n row-major block:
 * d[p*n + j] = s[j*ld + p] (B^T for the no-packing path); NULL means the frame's loop. */
typedef void (*fp_dgemm_tr_t)(fp_idx n, fp_idx k, const double *s, fp_idx ld, double *d);
typedef void (*fp_sgemm_tr_t)(fp_idx n, fp_idx k, const float *s, fp_idx ld, float *d);

/* Portable micro-kernels (fp_gemm_generic.c), MR x NR = FP_GEN_{D,S}_MR x FP_GEN_{D,S}_NR. */
void fp_dgemm_generic_4x4(fp_idx k, double alpha, const double *a, const double *b,
                          double beta, double *c, fp_idx ldc, const double *bias);
void fp_sgemm_generic_4x8(fp_idx k, float alpha, const float *a, const float *b,
                          float beta, float *c, fp_idx ldc, const float *bias);
/* Portable small-operand paths (sup contract above). */
void fp_dgemm_sup_generic(int trans_a, fp_idx M, fp_idx N, fp_idx K, double alpha,
                          const double *A, fp_idx lda, const double *B, fp_idx ldb,
                          double beta, double *C, fp_idx ldc, const double *bias);
void fp_sgemm_sup_generic(int trans_a, fp_idx M, fp_idx N, fp_idx K, float alpha,
                          const float *A, fp_idx lda, const float *B, fp_idx ldb,
                          float beta, float *C, fp_idx ldc, const float *bias);

#if FP_GEMM_HAVE_X86
/* AVX-512 micro-kernels (fp_gemm_avx512.c). Only call when the CPU has avx512f.
 * fp_sgemm_avx512_12x32: float32, MR=12, NR=32, 24 zmm accumulators (12 rows x 2 vectors
 *   of 16); reads packed A (k x 12), packed B (k x 32); writes the 12 x 32 tile of C; C read
 *   only when beta != 0.
 * fp_dgemm_avx512_12x16: float64, MR=12, NR=16, 24 zmm accumulators (12 rows x 2 vectors
 *   of 8); reads packed A (k x 12), packed B (k x 16); writes the 12 x 16 tile; C read only
 *   when beta != 0.
 * Both sum each element in the order of the AVX2 kernels and give the same bits. */
void fp_sgemm_avx512_12x32(fp_idx k, float alpha, const float *a, const float *b,
                           float beta, float *c, fp_idx ldc, const float *bias);
void fp_dgemm_avx512_12x16(fp_idx k, double alpha, const double *a, const double *b,
                           double beta, double *c, fp_idx ldc, const double *bias);
/* AVX-512 small-operand paths (sup contract above; fp_gemm_avx512.c): the AVX2 path's column
 * strips on 512-bit vectors in taller tiles of rows, AVX-512 masks for column edges; the same
 * bits as the AVX2 path. */
void fp_dgemm_sup_avx512(int trans_a, fp_idx M, fp_idx N, fp_idx K, double alpha,
                         const double *A, fp_idx lda, const double *B, fp_idx ldb,
                         double beta, double *C, fp_idx ldc, const double *bias);
void fp_sgemm_sup_avx512(int trans_a, fp_idx M, fp_idx N, fp_idx K, float alpha,
                         const float *A, fp_idx lda, const float *B, fp_idx ldb,
                         float beta, float *C, fp_idx ldc, const float *bias);
/* AVX2 packing of the AVX-512 kernels' full micro-panels (fp_gemm_avx2.c), layouts above:
 * pack_a_n12: 12 rows of A -> d[p*12 + i] = s[i*lda + p];
 * pack_b_t<NR>: NR rows of B -> d[p*NR + j] = s[j*ldb + p] (NR = 32 floats, 16 doubles). */
void fp_sgemm_avx2_pack_a_n12(fp_idx k, const float *s, fp_idx lda, float *d);
void fp_dgemm_avx2_pack_a_n12(fp_idx k, const double *s, fp_idx lda, double *d);
void fp_sgemm_avx2_pack_b_t32(fp_idx k, const float *s, fp_idx ldb, float *d);
void fp_dgemm_avx2_pack_b_t16(fp_idx k, const double *s, fp_idx ldb, double *d);
/* AVX2+FMA micro-kernels (fp_gemm_avx2.c). Only call when the CPU has avx2 and fma.
 * fp_dgemm_avx2_6x8: float64, MR=6, NR=8, 12 ymm accumulators (6 rows x 2 vectors of 4).
 *   reads packed A (k x 6), packed B (k x 8); writes the 6 x 8 tile of C; C read only when
 *   beta != 0.
 * fp_sgemm_avx2_6x16: float32, MR=6, NR=16, 12 ymm accumulators (6 rows x 2 vectors of 8).
 *   reads packed A (k x 6), packed B (k x 16); writes the 6 x 16 tile; C read only when
 *   beta != 0. */
void fp_dgemm_avx2_6x8(fp_idx k, double alpha, const double *a, const double *b,
                       double beta, double *c, fp_idx ldc, const double *bias);
void fp_sgemm_avx2_6x16(fp_idx k, float alpha, const float *a, const float *b,
                        float beta, float *c, fp_idx ldc, const float *bias);
/* AVX2+FMA small-operand paths (sup contract above): 6 x (2 vectors) register tiles read
 * straight from A and B, masked loads/stores for column edges. */
void fp_dgemm_sup_avx2(int trans_a, fp_idx M, fp_idx N, fp_idx K, double alpha,
                       const double *A, fp_idx lda, const double *B, fp_idx ldb,
                       double beta, double *C, fp_idx ldc, const double *bias);
void fp_sgemm_sup_avx2(int trans_a, fp_idx M, fp_idx N, fp_idx K, float alpha,
                       const float *A, fp_idx lda, const float *B, fp_idx ldb,
                       float beta, float *C, fp_idx ldc, const float *bias);
/* AVX2 packing of full micro-panels for the two gathers (layouts above), k >= 0:
 * pack_a_n<MR>: MR rows of A (row stride lda), k columns each -> d[p*MR + i] = s[i*lda + p];
 * pack_b_t<NR>: NR rows of B (row stride ldb), k columns each -> d[p*NR + j] = s[j*ldb + p]. */
void fp_dgemm_avx2_pack_a_n6(fp_idx k, const double *s, fp_idx lda, double *d);
void fp_sgemm_avx2_pack_a_n6(fp_idx k, const float *s, fp_idx lda, float *d);
void fp_dgemm_avx2_pack_b_t8(fp_idx k, const double *s, fp_idx ldb, double *d);
void fp_sgemm_avx2_pack_b_t16(fp_idx k, const float *s, fp_idx ldb, float *d);
/* AVX2 transposed copy (fp_<d|s>gemm_tr_t above), in 4 x 4 (float64) or 8 x 8 (float32)
 * blocks; any n, k >= 0. */
void fp_dgemm_avx2_tr(fp_idx n, fp_idx k, const double *s, fp_idx ld, double *d);
void fp_sgemm_avx2_tr(fp_idx n, fp_idx k, const float *s, fp_idx ld, float *d);
#endif

#endif
