/* fp_gemm_avx2.c: AVX2+FMA micro-kernels and small-operand path of fastprop's GEMM.
 * Contracts in fp_gemm_kernels.h.
 *
 * Every function that uses AVX2/FMA carries __attribute__((target("avx2,fma"))): the file is
 * compiled WITHOUT -mavx2/-march, so the wheel runs on any x86-64, and the frame only calls
 * these after __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma").
 * On non-x86 builds the file compiles to nothing. */
#include "fp_gemm_kernels.h"

#if FP_GEMM_HAVE_X86
#include <immintrin.h>

#define FP_AVX2 __attribute__((target("avx2,fma")))
#define FP_AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

/* The k loop of the two micro-kernels is written in inline assembly (GCC/Clang extended asm,
 * AT&T syntax): with intrinsics GCC 12 renames the accumulators through the broadcast
 * register (vfmadd132 + vmovapd copies) and moves the B loads, which is slower in L1
 * (docs/tuning.md).
 * Registers: the 12 accumulators are compiler-chosen ymm operands (c00..c51), ymm13 holds the
 * broadcast of A, ymm14/ymm15 the two B vectors. The B row of step p+1 is loaded at the end
 * of step p (software pipelining); the last step loads nothing, so the packed panels are never
 * read past their k-th row. SZ = element size, SFX = pd|ps, BC = vbroadcastsd|vbroadcastss,
 * MOV = vmovupd|vmovups.
 * A B row is 64 bytes in both dtypes (8 doubles, 16 floats); an A column is 6*SZ bytes. */
#define FP_STR_(x) #x
#define FP_STR(x) FP_STR_(x)
#define FP_ASM_FMA6(U, SZ, SFX, BC)                                                         \
    BC " " FP_STR(U) "*6*" FP_STR(SZ) "+0*" FP_STR(SZ) "(%[a]), %%ymm13\n\t"                   \
    "vfmadd231" SFX " %%ymm14, %%ymm13, %[c00]\n\t"                                          \
    "vfmadd231" SFX " %%ymm15, %%ymm13, %[c01]\n\t"                                          \
    BC " " FP_STR(U) "*6*" FP_STR(SZ) "+1*" FP_STR(SZ) "(%[a]), %%ymm13\n\t"                   \
    "vfmadd231" SFX " %%ymm14, %%ymm13, %[c10]\n\t"                                          \
    "vfmadd231" SFX " %%ymm15, %%ymm13, %[c11]\n\t"                                          \
    BC " " FP_STR(U) "*6*" FP_STR(SZ) "+2*" FP_STR(SZ) "(%[a]), %%ymm13\n\t"                   \
    "vfmadd231" SFX " %%ymm14, %%ymm13, %[c20]\n\t"                                          \
    "vfmadd231" SFX " %%ymm15, %%ymm13, %[c21]\n\t"                                          \
    BC " " FP_STR(U) "*6*" FP_STR(SZ) "+3*" FP_STR(SZ) "(%[a]), %%ymm13\n\t"                   \
    "vfmadd231" SFX " %%ymm14, %%ymm13, %[c30]\n\t"                                          \
    "vfmadd231" SFX " %%ymm15, %%ymm13, %[c31]\n\t"                                          \
    BC " " FP_STR(U) "*6*" FP_STR(SZ) "+4*" FP_STR(SZ) "(%[a]), %%ymm13\n\t"                   \
    "vfmadd231" SFX " %%ymm14, %%ymm13, %[c40]\n\t"                                          \
    "vfmadd231" SFX " %%ymm15, %%ymm13, %[c41]\n\t"                                          \
    BC " " FP_STR(U) "*6*" FP_STR(SZ) "+5*" FP_STR(SZ) "(%[a]), %%ymm13\n\t"                   \
    "vfmadd231" SFX " %%ymm14, %%ymm13, %[c50]\n\t"                                          \
    "vfmadd231" SFX " %%ymm15, %%ymm13, %[c51]\n\t"
#define FP_ASM_STEP(U, SZ, SFX, BC, MOV)                                                         \
    FP_ASM_FMA6(U, SZ, SFX, BC)                                                             \
    MOV " " FP_STR(U) "*64+64(%[b]), %%ymm14\n\t"                             \
    MOV " " FP_STR(U) "*64+96(%[b]), %%ymm15\n\t"

/* k >= 1 steps over packed a (6 per step) and b (64 bytes per step) into the accumulators. */
#define FP_ASM_KLOOP(SZ, SFX, BC, MOV, PF)                                                       \
    __asm__ volatile(                                                                       \
        MOV " (%[b]), %%ymm14\n\t"                                           \
        MOV " 32(%[b]), %%ymm15\n\t"                                         \
        "sub $1, %[k]\n\t"                      /* k-1 steps load the next B row */       \
        "cmp $4, %[k]\n\t"                                                                  \
        "jl 2f\n\t"                                                                         \
        ".p2align 5\n"                                                                      \
        "1:\n\t"                                                                            \
        PF                                                                                  \
        FP_ASM_STEP(0, SZ, SFX, BC, MOV) FP_ASM_STEP(1, SZ, SFX, BC, MOV)                              \
        FP_ASM_STEP(2, SZ, SFX, BC, MOV) FP_ASM_STEP(3, SZ, SFX, BC, MOV)                              \
        "add $24*" FP_STR(SZ) ", %[a]\n\t"                                                  \
        "add $256, %[b]\n\t"                                                                \
        "sub $4, %[k]\n\t"                                                                  \
        "cmp $4, %[k]\n\t"                                                                  \
        "jge 1b\n"                                                                          \
        "2:\n\t"                                                                            \
        "test %[k], %[k]\n\t"                                                               \
        "jz 3f\n"                                                                           \
        "4:\n\t"                                                                            \
        FP_ASM_STEP(0, SZ, SFX, BC, MOV)                                                         \
        "add $6*" FP_STR(SZ) ", %[a]\n\t"                                                   \
        "add $64, %[b]\n\t"                                                                 \
        "sub $1, %[k]\n\t"                                                                  \
        "jnz 4b\n"                                                                          \
        "3:\n\t"                                                                            \
        FP_ASM_FMA6(0, SZ, SFX, BC)                                                         \
        : [a] "+r"(a), [b] "+r"(b), [k] "+r"(kk),                                           \
          [c00] "+x"(c00), [c01] "+x"(c01), [c10] "+x"(c10), [c11] "+x"(c11),               \
          [c20] "+x"(c20), [c21] "+x"(c21), [c30] "+x"(c30), [c31] "+x"(c31),               \
          [c40] "+x"(c40), [c41] "+x"(c41), [c50] "+x"(c50), [c51] "+x"(c51)                \
        :                                                                                   \
        : "xmm13", "xmm14", "xmm15", "cc", "memory")

/* ---------------------------------------------------------------------------------------
 * float64 6x8: per k step, 2 loads of B (8 doubles), 6 broadcasts of A, 12 FMAs into
 * 12 ymm accumulators (c<row><half>). k unrolled by 4; the B row of step p+1 is loaded at the
 * end of step p, which is faster than loading it at the start of the step (docs/tuning.md).
 * The packed panels are never read past their k-th row.
 * --------------------------------------------------------------------------------------- */
/* C row = alpha*acc (+ beta*C) (+ bias). C is only loaded when beta != 0. */
#define D_STORE_ROW(i, x0, x1)                                                              \
    do {                                                                                    \
        double *ci = c + (i) * ldc;                                                         \
        __m256d y0 = _mm256_mul_pd(va, x0), y1 = _mm256_mul_pd(va, x1);                     \
        if (beta != 0) {                                                                    \
            y0 = _mm256_fmadd_pd(vb, _mm256_loadu_pd(ci), y0);                              \
            y1 = _mm256_fmadd_pd(vb, _mm256_loadu_pd(ci + 4), y1);                          \
        }                                                                                   \
        if (bias) { y0 = _mm256_add_pd(y0, z0); y1 = _mm256_add_pd(y1, z1); }               \
        _mm256_storeu_pd(ci, y0);                                                           \
        _mm256_storeu_pd(ci + 4, y1);                                                       \
    } while (0)

FP_AVX2 void fp_dgemm_avx2_6x8(fp_idx k, double alpha, const double *a, const double *b,
                               double beta, double *c, fp_idx ldc, const double *bias)
{
    __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
    __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
    __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
    __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
    __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd();
    __m256d c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();

    /* the C tile is needed at the end: start bringing it in now */
    for (int i = 0; i < 6; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 7), _MM_HINT_T0);
    }

    if (k > 0) {
        fp_idx kk = k;
        FP_ASM_KLOOP(8, "pd", "vbroadcastsd", "vmovupd",
                     "prefetcht0 768(%[a])\n\tprefetcht0 832(%[a])\n\tprefetcht0 896(%[a])\n\t");
    }

    const __m256d va = _mm256_set1_pd(alpha), vb = _mm256_set1_pd(beta);
    __m256d z0 = _mm256_setzero_pd(), z1 = _mm256_setzero_pd();
    if (bias) { z0 = _mm256_loadu_pd(bias); z1 = _mm256_loadu_pd(bias + 4); }
    D_STORE_ROW(0, c00, c01);
    D_STORE_ROW(1, c10, c11);
    D_STORE_ROW(2, c20, c21);
    D_STORE_ROW(3, c30, c31);
    D_STORE_ROW(4, c40, c41);
    D_STORE_ROW(5, c50, c51);
}

/* ---------------------------------------------------------------------------------------
 * float32 6x16: same shape of loop with 8-float vectors.
 * --------------------------------------------------------------------------------------- */
#define S_STORE_ROW(i, x0, x1)                                                              \
    do {                                                                                    \
        float *ci = c + (i) * ldc;                                                          \
        __m256 y0 = _mm256_mul_ps(va, x0), y1 = _mm256_mul_ps(va, x1);                      \
        if (beta != 0) {                                                                    \
            y0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), y0);                              \
            y1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), y1);                          \
        }                                                                                   \
        if (bias) { y0 = _mm256_add_ps(y0, z0); y1 = _mm256_add_ps(y1, z1); }               \
        _mm256_storeu_ps(ci, y0);                                                           \
        _mm256_storeu_ps(ci + 8, y1);                                                       \
    } while (0)

FP_AVX2 void fp_sgemm_avx2_6x16(fp_idx k, float alpha, const float *a, const float *b,
                                float beta, float *c, fp_idx ldc, const float *bias)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();

    for (int i = 0; i < 6; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 15), _MM_HINT_T0);
    }

    if (k > 0) {
        fp_idx kk = k;
        FP_ASM_KLOOP(4, "ps", "vbroadcastss", "vmovups",
                     "prefetcht0 768(%[a])\n\tprefetcht0 832(%[a])\n\t");
    }

    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    __m256 z0 = _mm256_setzero_ps(), z1 = _mm256_setzero_ps();
    if (bias) { z0 = _mm256_loadu_ps(bias); z1 = _mm256_loadu_ps(bias + 8); }
    S_STORE_ROW(0, c00, c01);
    S_STORE_ROW(1, c10, c11);
    S_STORE_ROW(2, c20, c21);
    S_STORE_ROW(3, c30, c31);
    S_STORE_ROW(4, c40, c41);
    S_STORE_ROW(5, c50, c51);
}

/* ---------------------------------------------------------------------------------------
 * Packing of the two gathers (contracts in fp_gemm_kernels.h): in-register transposes of
 * 4-wide (f64) / 8-wide (f32) column blocks, scalar tail for the last k % 4 (k % 8) columns.
 * The copies (pack_a_t, pack_b_row) stay in the frame (constant-size memcpy).
 * --------------------------------------------------------------------------------------- */
FP_AVX2 void fp_dgemm_avx2_pack_a_n6(fp_idx k, const double *s, fp_idx lda, double *d)
{
    const double *s0 = s, *s1 = s + lda, *s2 = s + 2 * lda, *s3 = s + 3 * lda;
    const double *s4 = s + 4 * lda, *s5 = s + 5 * lda;
    fp_idx p = 0;
    /* 6 rows x 4 columns -> 24 contiguous values: columns p..p+3, 6 rows each */
    for (; p + 4 <= k; p += 4, d += 24) {
        const __m256d r0 = _mm256_loadu_pd(s0 + p), r1 = _mm256_loadu_pd(s1 + p);
        const __m256d r2 = _mm256_loadu_pd(s2 + p), r3 = _mm256_loadu_pd(s3 + p);
        const __m256d r4 = _mm256_loadu_pd(s4 + p), r5 = _mm256_loadu_pd(s5 + p);
        const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
        const __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
        const __m256d u = _mm256_unpacklo_pd(r4, r5), v = _mm256_unpackhi_pd(r4, r5);
        _mm256_storeu_pd(d + 0, _mm256_permute2f128_pd(t0, t2, 0x20));
        _mm256_storeu_pd(d + 4, _mm256_permute2f128_pd(u, t1, 0x20));
        _mm256_storeu_pd(d + 8, _mm256_permute2f128_pd(t3, v, 0x20));
        _mm256_storeu_pd(d + 12, _mm256_permute2f128_pd(t0, t2, 0x31));
        _mm256_storeu_pd(d + 16, _mm256_permute2f128_pd(u, t1, 0x31));
        _mm256_storeu_pd(d + 20, _mm256_permute2f128_pd(t3, v, 0x31));
    }
    for (; p < k; p++, d += 6) {
        d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p]; d[4] = s4[p]; d[5] = s5[p];
    }
}

FP_AVX2 void fp_sgemm_avx2_pack_a_n6(fp_idx k, const float *s, fp_idx lda, float *d)
{
    const float *s0 = s, *s1 = s + lda, *s2 = s + 2 * lda, *s3 = s + 3 * lda;
    const float *s4 = s + 4 * lda, *s5 = s + 5 * lda;
    fp_idx p = 0;
    /* 6 rows x 8 columns -> 48 values. Each 128-bit lane transposes its own 4 columns
     * (in-lane shuffles); x0..x5 are the 6 quarter-rows of output for columns p..p+3 (low
     * lanes) and p+4..p+7 (high lanes). */
    for (; p + 8 <= k; p += 8, d += 48) {
        const __m256 r0 = _mm256_loadu_ps(s0 + p), r1 = _mm256_loadu_ps(s1 + p);
        const __m256 r2 = _mm256_loadu_ps(s2 + p), r3 = _mm256_loadu_ps(s3 + p);
        const __m256 r4 = _mm256_loadu_ps(s4 + p), r5 = _mm256_loadu_ps(s5 + p);
        const __m256 a0 = _mm256_unpacklo_ps(r0, r1), a1 = _mm256_unpackhi_ps(r0, r1);
        const __m256 a2 = _mm256_unpacklo_ps(r2, r3), a3 = _mm256_unpackhi_ps(r2, r3);
        const __m256 c0 = _mm256_shuffle_ps(a0, a2, 0x44), c1 = _mm256_shuffle_ps(a0, a2, 0xEE);
        const __m256 c2 = _mm256_shuffle_ps(a1, a3, 0x44), c3 = _mm256_shuffle_ps(a1, a3, 0xEE);
        const __m256 u = _mm256_unpacklo_ps(r4, r5), v = _mm256_unpackhi_ps(r4, r5);
        const __m256 x0 = c0, x1 = _mm256_shuffle_ps(u, c1, 0x44);
        const __m256 x2 = _mm256_shuffle_ps(c1, u, 0xEE), x3 = c2;
        const __m256 x4 = _mm256_shuffle_ps(v, c3, 0x44), x5 = _mm256_shuffle_ps(c3, v, 0xEE);
        _mm256_storeu_ps(d + 0, _mm256_permute2f128_ps(x0, x1, 0x20));
        _mm256_storeu_ps(d + 8, _mm256_permute2f128_ps(x2, x3, 0x20));
        _mm256_storeu_ps(d + 16, _mm256_permute2f128_ps(x4, x5, 0x20));
        _mm256_storeu_ps(d + 24, _mm256_permute2f128_ps(x0, x1, 0x31));
        _mm256_storeu_ps(d + 32, _mm256_permute2f128_ps(x2, x3, 0x31));
        _mm256_storeu_ps(d + 40, _mm256_permute2f128_ps(x4, x5, 0x31));
    }
    for (; p < k; p++, d += 6) {
        d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p]; d[4] = s4[p]; d[5] = s5[p];
    }
}

/* 4 rows x 4 columns of doubles -> the 4 columns, as rows of 4 */
FP_AVX2_INLINE void d_tr4(const double *s, fp_idx ld, __m256d *c0, __m256d *c1, __m256d *c2,
                          __m256d *c3)
{
    const __m256d r0 = _mm256_loadu_pd(s), r1 = _mm256_loadu_pd(s + ld);
    const __m256d r2 = _mm256_loadu_pd(s + 2 * ld), r3 = _mm256_loadu_pd(s + 3 * ld);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
    const __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    *c0 = _mm256_permute2f128_pd(t0, t2, 0x20);
    *c1 = _mm256_permute2f128_pd(t1, t3, 0x20);
    *c2 = _mm256_permute2f128_pd(t0, t2, 0x31);
    *c3 = _mm256_permute2f128_pd(t1, t3, 0x31);
}

/* R blocks of 4 rows: rows 4r..4r+3 of column p+q go to d[q*W + 4r] (W = 4R values a column) */
FP_AVX2_INLINE void d_pack_n4(const int R, fp_idx k, const double *s, fp_idx ld, double *d)
{
    const int W = 4 * R;
    fp_idx p = 0;
    for (; p + 4 <= k; p += 4, d += 4 * W)
        for (int r = 0; r < R; r++) {
            __m256d c0, c1, c2, c3;
            d_tr4(s + 4 * r * ld + p, ld, &c0, &c1, &c2, &c3);
            _mm256_storeu_pd(d + 4 * r, c0);
            _mm256_storeu_pd(d + W + 4 * r, c1);
            _mm256_storeu_pd(d + 2 * W + 4 * r, c2);
            _mm256_storeu_pd(d + 3 * W + 4 * r, c3);
        }
    for (; p < k; p++, d += W)
        for (int i = 0; i < W; i++) d[i] = s[i * ld + p];
}

FP_AVX2 void fp_dgemm_avx2_pack_b_t8(fp_idx k, const double *s, fp_idx ldb, double *d)
{
    d_pack_n4(2, k, s, ldb, d);
}

/* 8 rows x 8 columns of floats, transposed: column q of the block goes to d[q * ldd] */
FP_AVX2_INLINE void s_tr8(const float *s, fp_idx ld, float *d, fp_idx ldd)
{
    const __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + ld);
    const __m256 r2 = _mm256_loadu_ps(s + 2 * ld), r3 = _mm256_loadu_ps(s + 3 * ld);
    const __m256 r4 = _mm256_loadu_ps(s + 4 * ld), r5 = _mm256_loadu_ps(s + 5 * ld);
    const __m256 r6 = _mm256_loadu_ps(s + 6 * ld), r7 = _mm256_loadu_ps(s + 7 * ld);
    const __m256 a0 = _mm256_unpacklo_ps(r0, r1), a1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 a2 = _mm256_unpacklo_ps(r2, r3), a3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 a4 = _mm256_unpacklo_ps(r4, r5), a5 = _mm256_unpackhi_ps(r4, r5);
    const __m256 a6 = _mm256_unpacklo_ps(r6, r7), a7 = _mm256_unpackhi_ps(r6, r7);
    const __m256 b0 = _mm256_shuffle_ps(a0, a2, 0x44), b1 = _mm256_shuffle_ps(a0, a2, 0xEE);
    const __m256 b2 = _mm256_shuffle_ps(a1, a3, 0x44), b3 = _mm256_shuffle_ps(a1, a3, 0xEE);
    const __m256 b4 = _mm256_shuffle_ps(a4, a6, 0x44), b5 = _mm256_shuffle_ps(a4, a6, 0xEE);
    const __m256 b6 = _mm256_shuffle_ps(a5, a7, 0x44), b7 = _mm256_shuffle_ps(a5, a7, 0xEE);
    _mm256_storeu_ps(d + 0 * ldd, _mm256_permute2f128_ps(b0, b4, 0x20));
    _mm256_storeu_ps(d + 1 * ldd, _mm256_permute2f128_ps(b1, b5, 0x20));
    _mm256_storeu_ps(d + 2 * ldd, _mm256_permute2f128_ps(b2, b6, 0x20));
    _mm256_storeu_ps(d + 3 * ldd, _mm256_permute2f128_ps(b3, b7, 0x20));
    _mm256_storeu_ps(d + 4 * ldd, _mm256_permute2f128_ps(b0, b4, 0x31));
    _mm256_storeu_ps(d + 5 * ldd, _mm256_permute2f128_ps(b1, b5, 0x31));
    _mm256_storeu_ps(d + 6 * ldd, _mm256_permute2f128_ps(b2, b6, 0x31));
    _mm256_storeu_ps(d + 7 * ldd, _mm256_permute2f128_ps(b3, b7, 0x31));
}

/* R blocks of 8 rows: rows 8r..8r+7 of column p+q go to d[q*W + 8r] (W = 8R values a column) */
FP_AVX2_INLINE void s_pack_n8(const int R, fp_idx k, const float *s, fp_idx ld, float *d)
{
    const int W = 8 * R;
    fp_idx p = 0;
    for (; p + 8 <= k; p += 8, d += 8 * W)
        for (int r = 0; r < R; r++) s_tr8(s + 8 * r * ld + p, ld, d + 8 * r, W);
    for (; p < k; p++, d += W)
        for (int i = 0; i < W; i++) d[i] = s[i * ld + p];
}

FP_AVX2 void fp_sgemm_avx2_pack_b_t16(fp_idx k, const float *s, fp_idx ldb, float *d)
{
    s_pack_n8(2, k, s, ldb, d);
}

/* Panels of the AVX-512 kernels (12-row A panels, 32-float / 16-double B panels), packed
 * with the same AVX2 transposes: 8 x 8 (float32) and 4 x 4 (float64) blocks whose columns go
 * to their place in the panel, scalar tail for the last k % 8 (k % 4) columns. */

/* 4 rows x 8 columns of floats: column q of the block goes to d[q * ldd] (4 values) */
FP_AVX2_INLINE void s_tr4x8(const float *s, fp_idx ld, float *d, fp_idx ldd)
{
    const __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + ld);
    const __m256 r2 = _mm256_loadu_ps(s + 2 * ld), r3 = _mm256_loadu_ps(s + 3 * ld);
    const __m256 a0 = _mm256_unpacklo_ps(r0, r1), a1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 a2 = _mm256_unpacklo_ps(r2, r3), a3 = _mm256_unpackhi_ps(r2, r3);
    /* b<q> holds column q in its low lane and column q + 4 in its high lane */
    const __m256 b0 = _mm256_shuffle_ps(a0, a2, 0x44), b1 = _mm256_shuffle_ps(a0, a2, 0xEE);
    const __m256 b2 = _mm256_shuffle_ps(a1, a3, 0x44), b3 = _mm256_shuffle_ps(a1, a3, 0xEE);
    _mm_storeu_ps(d + 0 * ldd, _mm256_castps256_ps128(b0));
    _mm_storeu_ps(d + 1 * ldd, _mm256_castps256_ps128(b1));
    _mm_storeu_ps(d + 2 * ldd, _mm256_castps256_ps128(b2));
    _mm_storeu_ps(d + 3 * ldd, _mm256_castps256_ps128(b3));
    _mm_storeu_ps(d + 4 * ldd, _mm256_extractf128_ps(b0, 1));
    _mm_storeu_ps(d + 5 * ldd, _mm256_extractf128_ps(b1, 1));
    _mm_storeu_ps(d + 6 * ldd, _mm256_extractf128_ps(b2, 1));
    _mm_storeu_ps(d + 7 * ldd, _mm256_extractf128_ps(b3, 1));
}

FP_AVX2 void fp_sgemm_avx2_pack_a_n12(fp_idx k, const float *s, fp_idx lda, float *d)
{
    fp_idx p = 0;
    for (; p + 8 <= k; p += 8, d += 96) {
        s_tr8(s + p, lda, d, 12);
        s_tr4x8(s + 8 * lda + p, lda, d + 8, 12);
    }
    for (; p < k; p++, d += 12)
        for (int i = 0; i < 12; i++) d[i] = s[i * lda + p];
}

FP_AVX2 void fp_sgemm_avx2_pack_b_t32(fp_idx k, const float *s, fp_idx ldb, float *d)
{
    s_pack_n8(4, k, s, ldb, d);
}

FP_AVX2 void fp_dgemm_avx2_pack_a_n12(fp_idx k, const double *s, fp_idx lda, double *d)
{
    d_pack_n4(3, k, s, lda, d);
}

FP_AVX2 void fp_dgemm_avx2_pack_b_t16(fp_idx k, const double *s, fp_idx ldb, double *d)
{
    d_pack_n4(4, k, s, ldb, d);
}

/* d[p*n + j] = s[j*ld + p]: 4 x 4 blocks through registers, scalar edges (the scalar loop
 * was a quarter of a 32 x 64 x 10 product with trans_b) */
FP_AVX2 void fp_dgemm_avx2_tr(fp_idx n, fp_idx k, const double *s, fp_idx ld, double *d)
{
    fp_idx j = 0;
    for (; j + 4 <= n; j += 4) {
        const double *sj = s + j * ld;
        fp_idx p = 0;
        for (; p + 4 <= k; p += 4) {
            __m256d c0, c1, c2, c3;
            d_tr4(sj + p, ld, &c0, &c1, &c2, &c3);
            _mm256_storeu_pd(d + p * n + j, c0);
            _mm256_storeu_pd(d + (p + 1) * n + j, c1);
            _mm256_storeu_pd(d + (p + 2) * n + j, c2);
            _mm256_storeu_pd(d + (p + 3) * n + j, c3);
        }
        for (; p < k; p++)
            for (int i = 0; i < 4; i++) d[p * n + j + i] = sj[i * ld + p];
    }
    for (; j < n; j++)
        for (fp_idx p = 0; p < k; p++) d[p * n + j] = s[j * ld + p];
}

FP_AVX2 void fp_sgemm_avx2_tr(fp_idx n, fp_idx k, const float *s, fp_idx ld, float *d)
{
    fp_idx j = 0;
    for (; j + 8 <= n; j += 8) {
        const float *sj = s + j * ld;
        fp_idx p = 0;
        for (; p + 8 <= k; p += 8) s_tr8(sj + p, ld, d + p * n + j, n);
        for (; p < k; p++)
            for (int i = 0; i < 8; i++) d[p * n + j + i] = sj[i * ld + p];
    }
    for (; j < n; j++)
        for (fp_idx p = 0; p < k; p++) d[p * n + j] = s[j * ld + p];
}

/* ---------------------------------------------------------------------------------------
 * Small-operand path (no packing): fp_gemm_sup_simd.inc, once per element type.
 * --------------------------------------------------------------------------------------- */
#define SUP_TARGET "avx2,fma"
#define SUP_ROW1_NV 8   /* one-row strips: fp_gemm_sup_simd.inc */
#define SUP_INLINE FP_AVX2_INLINE
#define SUP_FN FP_AVX2
#define SUP_MASK_T __m256i
#define SUP_T double
#define SUP_V __m256d
#define SUP_W 4
#define SUPN(name) dsup_##name
#define SUP_ENTRY fp_dgemm_sup_avx2
#define SUP_ZERO _mm256_setzero_pd
#define SUP_SET1 _mm256_set1_pd
#define SUP_BCAST _mm256_broadcast_sd
#define SUP_FMA _mm256_fmadd_pd
#define SUP_MUL _mm256_mul_pd
#define SUP_ADD _mm256_add_pd
#define SUP_LOADU _mm256_loadu_pd
#define SUP_STOREU _mm256_storeu_pd
#define SUP_MASKLOAD _mm256_maskload_pd
#define SUP_MASKSTORE _mm256_maskstore_pd
#define SUP_LANES_BELOW(rem) \
    _mm256_cmpgt_epi64(_mm256_set1_epi64x(rem), _mm256_setr_epi64x(0, 1, 2, 3))
#include "fp_gemm_sup_simd.inc"

#define SUP_T float
#define SUP_V __m256
#define SUP_W 8
#define SUPN(name) ssup_##name
#define SUP_ENTRY fp_sgemm_sup_avx2
#define SUP_ZERO _mm256_setzero_ps
#define SUP_SET1 _mm256_set1_ps
#define SUP_BCAST _mm256_broadcast_ss
#define SUP_FMA _mm256_fmadd_ps
#define SUP_MUL _mm256_mul_ps
#define SUP_ADD _mm256_add_ps
#define SUP_LOADU _mm256_loadu_ps
#define SUP_STOREU _mm256_storeu_ps
#define SUP_MASKLOAD _mm256_maskload_ps
#define SUP_MASKSTORE _mm256_maskstore_ps
#define SUP_LANES_BELOW(rem) \
    _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#include "fp_gemm_sup_simd.inc"

#else
/* keep the translation unit non-empty for ISO C */
typedef int fp_gemm_avx2_unused_t;
#endif
