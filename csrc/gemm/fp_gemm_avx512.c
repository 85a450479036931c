/* fp_gemm_avx512.c: AVX-512 micro-kernels and small-operand path of fastprop's GEMM
 * (contracts in fp_gemm_kernels.h).
 *
 * The packing of this configuration is the AVX2 one (fp_gemm_avx2.c). Every function here
 * carries __attribute__((target("avx512f..."))): the file is compiled WITHOUT -mavx512f/-march, so the
 * wheel runs on any x86-64, and the frame only calls these after
 * __builtin_cpu_supports("avx512f") (which also checks that the OS saves the zmm state).
 *
 * Register tile 12 x 32 (float32) / 12 x 16 (float64): 12 rows x 2 zmm vectors = 24
 * accumulators (zmm0..zmm23), the B row of the step in zmm24/zmm25, the broadcasts of A in
 * zmm26..zmm31 (rotating, so that the renamer never waits). Per k step: 2 loads of B,
 * 12 broadcasts, 24 FMAs; two 512-bit FMA pipes take 12 cycles for them, under the 2 loads a
 * cycle the core can do (the cores this was written for: docs/tuning.md).
 * 12 rows rather than 14 (28 accumulators): batch sizes of 32, 128 and 512 leave an edge tile
 * of 8 rows at most, where 14 wastes up to a quarter of a 32-row product.
 *
 * Each element is summed with FMA in ascending k from zero, then alpha*sum, beta*C (FMA) and
 * bias, in the order of the AVX2 kernels: both paths give the same bits (with
 * -ffp-contract=off, as setup.py builds: else GCC fuses alpha*sum + bias).
 * On non-x86 builds the file compiles to nothing. */
#include "fp_gemm_kernels.h"

#if FP_GEMM_HAVE_X86
#include <immintrin.h>

#define FP_AVX512 __attribute__((target("avx512f")))

#define FP_STR_(x) #x
#define FP_STR(x) FP_STR_(x)

/* One broadcast of A element (U*12 + I) into zmm<R>, then its two FMAs into rows I. */
#define Z_ROW(U, I, R, C0, C1, SZ, SFX, BC)                                                 \
    BC " " FP_STR(U) "*12*" FP_STR(SZ) "+" FP_STR(I) "*" FP_STR(SZ) "(%[a]), %%zmm" #R "\n\t"  \
    "vfmadd231" SFX " %%zmm24, %%zmm" #R ", %%zmm" #C0 "\n\t"                                \
    "vfmadd231" SFX " %%zmm25, %%zmm" #R ", %%zmm" #C1 "\n\t"
/* k step U of an unrolled group: the B row (128 bytes in both dtypes), then 12 rows. */
#define Z_STEP(U, SZ, SFX, BC, MOV)                                                         \
    MOV " " FP_STR(U) "*128(%[b]), %%zmm24\n\t"                                              \
    MOV " " FP_STR(U) "*128+64(%[b]), %%zmm25\n\t"                                           \
    Z_ROW(U, 0, 26, 0, 1, SZ, SFX, BC)   Z_ROW(U, 1, 27, 2, 3, SZ, SFX, BC)                   \
    Z_ROW(U, 2, 28, 4, 5, SZ, SFX, BC)   Z_ROW(U, 3, 29, 6, 7, SZ, SFX, BC)                   \
    Z_ROW(U, 4, 30, 8, 9, SZ, SFX, BC)   Z_ROW(U, 5, 31, 10, 11, SZ, SFX, BC)                 \
    Z_ROW(U, 6, 26, 12, 13, SZ, SFX, BC) Z_ROW(U, 7, 27, 14, 15, SZ, SFX, BC)                 \
    Z_ROW(U, 8, 28, 16, 17, SZ, SFX, BC) Z_ROW(U, 9, 29, 18, 19, SZ, SFX, BC)                 \
    Z_ROW(U, 10, 30, 20, 21, SZ, SFX, BC) Z_ROW(U, 11, 31, 22, 23, SZ, SFX, BC)
#define Z_ZERO2(X, Y) "vpxord %%zmm" #X ", %%zmm" #X ", %%zmm" #X "\n\t"                     \
                      "vpxord %%zmm" #Y ", %%zmm" #Y ", %%zmm" #Y "\n\t"
/* one row of the tile (two accumulators) to out, then out += ostride */
#define Z_SAVE2(X, Y) "vmovups %%zmm" #X ", (%[out])\n\t"                                    \
                      "vmovups %%zmm" #Y ", 64(%[out])\n\t"                                  \
                      "add %[ostride], %[out]\n\t"

/* The whole k loop in one asm statement (GCC/Clang extended asm, AT&T syntax): the 24
 * accumulators are fixed registers, zeroed here and stored at the end, row i of the tile at
 * out + i * ostride bytes: straight into C when the epilogue would change nothing (alpha 1,
 * beta 0, no bias: the weight-gradient products), else into acc (12 rows of 128 bytes) for
 * the epilogue. Unaligned moves: they cost nothing on the aligned buffer and do not trust
 * the stack's alignment on every ABI. k >= 0. k unrolled by 4; PF prefetches the A micro-panel ahead (the B
 * micro-panel stays in L1 across the tiles of a block). Written in asm because 24 in-out
 * vector operands exceed what an asm statement can take, and with intrinsics GCC 12 copies
 * the accumulators around the broadcasts. */
#define Z_KLOOP(SZ, SFX, BC, MOV, PF)                                                       \
    __asm__ volatile(                                                                       \
        Z_ZERO2(0, 1) Z_ZERO2(2, 3) Z_ZERO2(4, 5) Z_ZERO2(6, 7) Z_ZERO2(8, 9)               \
        Z_ZERO2(10, 11) Z_ZERO2(12, 13) Z_ZERO2(14, 15) Z_ZERO2(16, 17) Z_ZERO2(18, 19)     \
        Z_ZERO2(20, 21) Z_ZERO2(22, 23)                                                     \
        "cmp $4, %[k]\n\t"                                                                  \
        "jl 2f\n\t"                                                                         \
        ".p2align 5\n"                                                                      \
        "1:\n\t"                                                                            \
        PF                                                                                  \
        Z_STEP(0, SZ, SFX, BC, MOV) Z_STEP(1, SZ, SFX, BC, MOV)                             \
        Z_STEP(2, SZ, SFX, BC, MOV) Z_STEP(3, SZ, SFX, BC, MOV)                             \
        "add $48*" FP_STR(SZ) ", %[a]\n\t"                                                  \
        "add $512, %[b]\n\t"                                                                \
        "sub $4, %[k]\n\t"                                                                  \
        "cmp $4, %[k]\n\t"                                                                  \
        "jge 1b\n"                                                                          \
        "2:\n\t"                                                                            \
        "test %[k], %[k]\n\t"                                                               \
        "jz 3f\n"                                                                           \
        "4:\n\t"                                                                            \
        Z_STEP(0, SZ, SFX, BC, MOV)                                                         \
        "add $12*" FP_STR(SZ) ", %[a]\n\t"                                                  \
        "add $128, %[b]\n\t"                                                                \
        "sub $1, %[k]\n\t"                                                                  \
        "jnz 4b\n"                                                                          \
        "3:\n\t"                                                                            \
        Z_SAVE2(0, 1) Z_SAVE2(2, 3) Z_SAVE2(4, 5) Z_SAVE2(6, 7) Z_SAVE2(8, 9)               \
        Z_SAVE2(10, 11) Z_SAVE2(12, 13) Z_SAVE2(14, 15) Z_SAVE2(16, 17) Z_SAVE2(18, 19)     \
        Z_SAVE2(20, 21) Z_SAVE2(22, 23)                                                     \
        : [a] "+r"(a), [b] "+r"(b), [k] "+r"(kk), [out] "+r"(out)                          \
        : [ostride] "r"(ostride)                                                            \
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",  \
          "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18",  \
          "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27",  \
          "xmm28", "xmm29", "xmm30", "xmm31", "cc", "memory")

/* ---------------------------------------------------------------------------------------
 * float32 12x32: reads packed A (k x 12) and packed B (k x 32); writes the 12 x 32 tile of
 * C; C read only when beta != 0.
 * --------------------------------------------------------------------------------------- */
FP_AVX512 void fp_sgemm_avx512_12x32(fp_idx k, float alpha, const float *a, const float *b,
                                     float beta, float *c, fp_idx ldc, const float *bias)
{
    float acc[24 * 16] __attribute__((aligned(64)));
    /* the C tile is needed at the end: start bringing it in now */
    for (int i = 0; i < 12; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 31), _MM_HINT_T0);
    }
    fp_idx kk = k > 0 ? k : 0;
    const int direct = alpha == 1 && beta == 0 && !bias;   /* 1 * sum is the sum itself */
    char *out = direct ? (char *)c : (char *)acc;
    const fp_idx ostride = direct ? ldc * (fp_idx)sizeof(float) : 128;
    Z_KLOOP(4, "ps", "vbroadcastss", "vmovups",
            "prefetcht0 512(%[a])\n\tprefetcht0 576(%[a])\n\tprefetcht0 640(%[a])\n\t");
    if (direct) return;

    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __m512 z0 = _mm512_setzero_ps(), z1 = _mm512_setzero_ps();
    if (bias) { z0 = _mm512_loadu_ps(bias); z1 = _mm512_loadu_ps(bias + 16); }
    for (int i = 0; i < 12; i++) {
        float *ci = c + i * ldc;
        __m512 y0 = _mm512_mul_ps(va, _mm512_loadu_ps(acc + 32 * i));
        __m512 y1 = _mm512_mul_ps(va, _mm512_loadu_ps(acc + 32 * i + 16));
        if (beta != 0) {
            y0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci), y0);
            y1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci + 16), y1);
        }
        if (bias) { y0 = _mm512_add_ps(y0, z0); y1 = _mm512_add_ps(y1, z1); }
        _mm512_storeu_ps(ci, y0);
        _mm512_storeu_ps(ci + 16, y1);
    }
}

/* ---------------------------------------------------------------------------------------
 * float64 12x16: the same loop with 8-double vectors; reads packed A (k x 12) and packed B
 * (k x 16); writes the 12 x 16 tile; C read only when beta != 0.
 * --------------------------------------------------------------------------------------- */
FP_AVX512 void fp_dgemm_avx512_12x16(fp_idx k, double alpha, const double *a, const double *b,
                                     double beta, double *c, fp_idx ldc, const double *bias)
{
    double acc[24 * 8] __attribute__((aligned(64)));
    for (int i = 0; i < 12; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 15), _MM_HINT_T0);
    }
    fp_idx kk = k > 0 ? k : 0;
    const int direct = alpha == 1 && beta == 0 && !bias;
    char *out = direct ? (char *)c : (char *)acc;
    const fp_idx ostride = direct ? ldc * (fp_idx)sizeof(double) : 128;
    Z_KLOOP(8, "pd", "vbroadcastsd", "vmovupd",
            "prefetcht0 1024(%[a])\n\tprefetcht0 1088(%[a])\n\tprefetcht0 1152(%[a])\n\t"
            "prefetcht0 1216(%[a])\n\tprefetcht0 1280(%[a])\n\tprefetcht0 1344(%[a])\n\t");
    if (direct) return;

    const __m512d va = _mm512_set1_pd(alpha), vb = _mm512_set1_pd(beta);
    __m512d z0 = _mm512_setzero_pd(), z1 = _mm512_setzero_pd();
    if (bias) { z0 = _mm512_loadu_pd(bias); z1 = _mm512_loadu_pd(bias + 8); }
    for (int i = 0; i < 12; i++) {
        double *ci = c + i * ldc;
        __m512d y0 = _mm512_mul_pd(va, _mm512_loadu_pd(acc + 16 * i));
        __m512d y1 = _mm512_mul_pd(va, _mm512_loadu_pd(acc + 16 * i + 8));
        if (beta != 0) {
            y0 = _mm512_fmadd_pd(vb, _mm512_loadu_pd(ci), y0);
            y1 = _mm512_fmadd_pd(vb, _mm512_loadu_pd(ci + 8), y1);
        }
        if (bias) { y0 = _mm512_add_pd(y0, z0); y1 = _mm512_add_pd(y1, z1); }
        _mm512_storeu_pd(ci, y0);
        _mm512_storeu_pd(ci + 8, y1);
    }
}

/* ---------------------------------------------------------------------------------------
 * Small-operand path (no packing): fp_gemm_sup_simd.inc on 512-bit vectors, once per element
 * type. The column strips of the AVX2 copy, each vector twice as wide, in taller tiles of rows;
 * masked lanes use AVX-512 masks (never loaded, never stored). Same bits as the AVX2 copy.
 * --------------------------------------------------------------------------------------- */
#define SUP_TARGET "avx512f,avx2,fma"
#define SUP_ROW1_NV 16   /* one-row strips: fp_gemm_sup_simd.inc */
/* Row limits of the 2-vector, 2-masked and 3-masked strips (fp_gemm_sup_simd.inc; the AVX2
 * copy's are 6, 5 and 3): with 32 zmm, 24 accumulators leave room for the B row, the
 * broadcast and the alpha broadcast. Fewer B loads per FMA and fewer tiles per strip; the
 * f32 strips of 3 vectors (N = 100: 16 + 16 + 4 columns) gained most (docs/tuning.md).
 * The -D overrides are for sweeps only. */
#ifndef FP_SUP512_MAXR2
#define FP_SUP512_MAXR2 12
#endif
#ifndef FP_SUP512_MAXR2M
#define FP_SUP512_MAXR2M 8
#endif
#ifndef FP_SUP512_MAXR3M
#define FP_SUP512_MAXR3M 8
#endif
/* A column remainder of at most half a vector after whole vectors (float64 N = 10: 8 + 2,
 * N = 100: 96 + 4) goes to the AVX2 entry (SUP_TAIL in fp_gemm_sup_simd.inc, same bits): a
 * 256-bit FMA takes half the issue of a 512-bit one on a core with 256-bit FMA pipes (Zen 4),
 * where a masked zmm pays for all its lanes; the extra pass re-reads the tile's A elements.
 * On cores with two 512-bit FMA pipes it saves no issue slots (not measured there). */
#ifndef FP_SUP512_TAIL
#define FP_SUP512_TAIL 1
#endif
#define SUP_MAXR2 FP_SUP512_MAXR2
#define SUP_MAXR2M FP_SUP512_MAXR2M
#define SUP_MAXR3M FP_SUP512_MAXR3M
#define SUP_INLINE static inline __attribute__((always_inline, target("avx512f,avx2,fma")))
#define SUP_FN __attribute__((target("avx512f,avx2,fma")))

#define SUP_MASK_T __mmask8
#define SUP_T double
#define SUP_V __m512d
#define SUP_W 8
#define SUPN(name) dsup512_##name
#define SUP_ENTRY fp_dgemm_sup_avx512
#if FP_SUP512_TAIL
#define SUP_TAIL fp_dgemm_sup_avx2
#endif
#define SUP_ZERO _mm512_setzero_pd
#define SUP_SET1 _mm512_set1_pd
#define SUP_BCAST(p) _mm512_set1_pd(*(p))
#define SUP_FMA _mm512_fmadd_pd
#define SUP_MUL _mm512_mul_pd
#define SUP_ADD _mm512_add_pd
#define SUP_LOADU _mm512_loadu_pd
#define SUP_STOREU _mm512_storeu_pd
#define SUP_MASKLOAD(p, m) _mm512_maskz_loadu_pd((m), (p))
#define SUP_MASKSTORE(p, m, v) _mm512_mask_storeu_pd((p), (m), (v))
#define SUP_LANES_BELOW(rem) ((__mmask8)((1u << (rem)) - 1u))
#include "fp_gemm_sup_simd.inc"
#undef SUP_MASK_T

#define SUP_MASK_T __mmask16
#define SUP_T float
#define SUP_V __m512
#define SUP_W 16
#define SUPN(name) ssup512_##name
#define SUP_ENTRY fp_sgemm_sup_avx512
#if FP_SUP512_TAIL
#define SUP_TAIL fp_sgemm_sup_avx2
#endif
#define SUP_ZERO _mm512_setzero_ps
#define SUP_SET1 _mm512_set1_ps
#define SUP_BCAST(p) _mm512_set1_ps(*(p))
#define SUP_FMA _mm512_fmadd_ps
#define SUP_MUL _mm512_mul_ps
#define SUP_ADD _mm512_add_ps
#define SUP_LOADU _mm512_loadu_ps
#define SUP_STOREU _mm512_storeu_ps
#define SUP_MASKLOAD(p, m) _mm512_maskz_loadu_ps((m), (p))
#define SUP_MASKSTORE(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define SUP_LANES_BELOW(rem) ((__mmask16)((1u << (rem)) - 1u))
#include "fp_gemm_sup_simd.inc"

#else
/* keep the translation unit non-empty for ISO C */
typedef int fp_gemm_avx512_unused_t;
#endif
