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
 * register (vfmadd132 + vmovapd copies) and moves the B loads, costing ~10% in L1.
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
 * end of step p (measured ~9% faster than loading at the start of the step). The packed
 * panels are never read past their k-th row.
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

FP_AVX2 void fp_dgemm_avx2_pack_b_t8(fp_idx k, const double *s, fp_idx ldb, double *d)
{
    fp_idx p = 0;
    for (; p + 4 <= k; p += 4, d += 32) {
        __m256d a0, a1, a2, a3, b0, b1, b2, b3;
        d_tr4(s + p, ldb, &a0, &a1, &a2, &a3);
        d_tr4(s + 4 * ldb + p, ldb, &b0, &b1, &b2, &b3);
        _mm256_storeu_pd(d + 0, a0);  _mm256_storeu_pd(d + 4, b0);
        _mm256_storeu_pd(d + 8, a1);  _mm256_storeu_pd(d + 12, b1);
        _mm256_storeu_pd(d + 16, a2); _mm256_storeu_pd(d + 20, b2);
        _mm256_storeu_pd(d + 24, a3); _mm256_storeu_pd(d + 28, b3);
    }
    for (; p < k; p++, d += 8)
        for (int j = 0; j < 8; j++) d[j] = s[j * ldb + p];
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

FP_AVX2 void fp_sgemm_avx2_pack_b_t16(fp_idx k, const float *s, fp_idx ldb, float *d)
{
    fp_idx p = 0;
    for (; p + 8 <= k; p += 8, d += 128) {
        s_tr8(s + p, ldb, d, 16);
        s_tr8(s + 8 * ldb + p, ldb, d + 8, 16);
    }
    for (; p < k; p++, d += 16)
        for (int j = 0; j < 16; j++) d[j] = s[j * ldb + p];
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
 * Small-operand path (no packing). Register tile: mr rows x nv vectors, reading op(A)
 * elements by broadcast (any stride, so trans_a is free) and B rows directly.
 * Columns go in strips of 2 vectors. A remainder of less than one vector joins the last
 * strip (3 vectors, mr <= 3: 9 accumulators; 4 rows left no register for the mask and
 * spilled) instead of a strip of 2 mostly masked vectors (float64 N = 10: 3 x (4+4+2) tiles
 * rather than 6 x 8 plus 6 x (2 of 8), 35% fewer FMAs).
 * Rows are split evenly (tiles of r and r+1 rows): a short last tile (M = 32 as 5 x 6 + 2)
 * has too few accumulators to cover the FMA latency (2 pipes x 4 cycles = 8 chains).
 * mr, nv and `masked` (last vector partial) are compile-time constants after inlining (one
 * specialisation each). Masked-out lanes are never touched. Every element is still summed
 * in ascending k from zero, then alpha, beta*C and bias, whatever the tiling.
 * --------------------------------------------------------------------------------------- */
#define DSUP_LD(p, last) (masked && (last) ? _mm256_maskload_pd(p, mk) : _mm256_loadu_pd(p))
FP_AVX2_INLINE void dsup_tile(const int mr, const int nv, const int masked, fp_idx K,
                              double alpha, const double *A, fp_idx rsa, fp_idx csa,
                              const double *B, fp_idx ldb, double beta, double *C,
                              fp_idx ldc, const double *bias, __m256i mk)
{
    __m256d acc[8][3];
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < nv; v++) acc[i][v] = _mm256_setzero_pd();
    /* row i of the tile at a[i / 3] + (i % 3) * rs bytes: 3 address registers for 8 rows
     * (one per row ran out of registers and spilled in the masked tiles) */
    const char *a[3] = { (const char *)A, (const char *)(A + 3 * rsa),
                         (const char *)(A + 6 * rsa) };
    const fp_idx rs = rsa * (fp_idx)sizeof(double), cs = csa * (fp_idx)sizeof(double);
    const double *bp = B;
    for (fp_idx p = 0; p < K; p++, bp += ldb) {
        __m256d b[3];
        for (int v = 0; v < nv; v++) b[v] = DSUP_LD(bp + 4 * v, v == nv - 1);
        for (int i = 0; i < mr; i++) {
            const __m256d av = _mm256_broadcast_sd((const double *)(a[i / 3] + (i % 3) * rs));
            for (int v = 0; v < nv; v++) acc[i][v] = _mm256_fmadd_pd(av, b[v], acc[i][v]);
        }
        for (int g = 0; g < (mr + 2) / 3; g++) a[g] += cs;
    }
    const __m256d va = _mm256_set1_pd(alpha), vb = _mm256_set1_pd(beta);
    __m256d z[3];
    for (int v = 0; v < nv; v++) z[v] = bias ? DSUP_LD(bias + 4 * v, v == nv - 1) : va;
    for (int i = 0; i < mr; i++) {
        double *ci = C + i * ldc;
        for (int v = 0; v < nv; v++) {
            __m256d y = _mm256_mul_pd(va, acc[i][v]);
            if (beta != 0) y = _mm256_fmadd_pd(vb, DSUP_LD(ci + 4 * v, v == nv - 1), y);
            if (bias) y = _mm256_add_pd(y, z[v]);
            if (masked && v == nv - 1) _mm256_maskstore_pd(ci + 4 * v, mk, y);
            else _mm256_storeu_pd(ci + 4 * v, y);
        }
    }
}
#undef DSUP_LD

#define DSUP_CALL(MRV, NV, MSK)                                                             \
    dsup_tile(MRV, NV, MSK, K, alpha, A + i * rsa, rsa, csa, B, ldb, beta, C + i * ldc, ldc,  \
              bias, mk)
#define DSUP_CASE(MRV, NV, MSK) case MRV: DSUP_CALL(MRV, NV, MSK); break;
#define DSUP_SW3(NV, MSK) DSUP_CASE(3, NV, MSK) DSUP_CASE(2, NV, MSK) \
                          default: DSUP_CALL(1, NV, MSK); break;
#define DSUP_SW5(NV, MSK) DSUP_CASE(5, NV, MSK) DSUP_CASE(4, NV, MSK) DSUP_SW3(NV, MSK)
#define DSUP_SW6(NV, MSK) DSUP_CASE(6, NV, MSK) DSUP_SW5(NV, MSK)
#define DSUP_SW8(NV, MSK) DSUP_CASE(8, NV, MSK) DSUP_CASE(7, NV, MSK) DSUP_SW6(NV, MSK)
/* One column strip (nv vectors, the last one with rem lanes when masked): its M rows in t
 * tiles of r or r+1 (<= MAXR) rows. A function of its own, so that the row loop keeps few
 * registers live around the tiles (inlined into the column loop, the tiles spilled). The
 * masked tiles hold at most 10 accumulators: the mask and the alpha broadcast take two more
 * registers. */
#define DSUP_STRIP(NAME, NV, MSK, MAXR)                                                      \
    static __attribute__((noinline, target("avx2,fma"))) void NAME(                          \
        fp_idx M, fp_idx K, double alpha, const double *A, fp_idx rsa, fp_idx csa,           \
        const double *B, fp_idx ldb, double beta, double *C, fp_idx ldc, const double *bias,       \
        int rem)                                                                            \
    {                                                                                       \
        const __m256i mk = _mm256_cmpgt_epi64(_mm256_set1_epi64x(rem),                     \
                                              _mm256_setr_epi64x(0, 1, 2, 3));              \
        const fp_idx t = (M + (MAXR) - 1) / (MAXR), r = M / t, nhi = M % t;                 \
        for (fp_idx q = 0, i = 0; q < t; q++) {                                             \
            const int mr = (int)(r + (q >= t - nhi));                                       \
            switch (mr) { DSUP_SW##MAXR(NV, MSK) }                                          \
            i += mr;                                                                        \
        }                                                                                   \
    }
DSUP_STRIP(dsup_strip2, 2, 0, 6)
DSUP_STRIP(dsup_strip2m, 2, 1, 5)
DSUP_STRIP(dsup_strip3m, 3, 1, 3)
DSUP_STRIP(dsup_strip1, 1, 0, 8)
DSUP_STRIP(dsup_strip1m, 1, 1, 8)

#define DSUP_RUN(NAME, W)                                                                  \
    NAME(M, K, alpha, A, rsa, csa, B + j, ldb, beta, C + j, ldc, bias ? bias + j : NULL,    \
         (int)((W) % 4))

FP_AVX2 void fp_dgemm_sup_avx2(int trans_a, fp_idx M, fp_idx N, fp_idx K, double alpha,
                               const double *A, fp_idx lda, const double *B, fp_idx ldb,
                               double beta, double *C, fp_idx ldc, const double *bias)
{
    const fp_idx rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
    /* strips of 8 columns; a remainder of 1..3 makes the last one 9..11 wide */
    fp_idx nw = N / 8 * 8;
    if (N % 8 != 0 && N % 8 < 4 && nw > 0) nw -= 8;
    const fp_idx w = N - nw;   /* the last strip: 0, 1..7 or 9..11 columns */
    /* j outer: a column strip of B (K x 8) stays in L1 while all rows go by */
    fp_idx j = 0;
    for (; j < nw; j += 8) DSUP_RUN(dsup_strip2, 0);
    if (w > 8) DSUP_RUN(dsup_strip3m, w);
    else if (w > 4) DSUP_RUN(dsup_strip2m, w);
    else if (w == 4) DSUP_RUN(dsup_strip1, 0);
    else if (w > 0) DSUP_RUN(dsup_strip1m, w);
}

#define SSUP_LD(p, last) (masked && (last) ? _mm256_maskload_ps(p, mk) : _mm256_loadu_ps(p))
FP_AVX2_INLINE void ssup_tile(const int mr, const int nv, const int masked, fp_idx K,
                              float alpha, const float *A, fp_idx rsa, fp_idx csa,
                              const float *B, fp_idx ldb, float beta, float *C,
                              fp_idx ldc, const float *bias, __m256i mk)
{
    __m256 acc[8][3];
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < nv; v++) acc[i][v] = _mm256_setzero_ps();
    /* row i of the tile at a[i / 3] + (i % 3) * rs bytes: 3 address registers for 8 rows
     * (one per row ran out of registers and spilled in the masked tiles) */
    const char *a[3] = { (const char *)A, (const char *)(A + 3 * rsa),
                         (const char *)(A + 6 * rsa) };
    const fp_idx rs = rsa * (fp_idx)sizeof(float), cs = csa * (fp_idx)sizeof(float);
    const float *bp = B;
    for (fp_idx p = 0; p < K; p++, bp += ldb) {
        __m256 b[3];
        for (int v = 0; v < nv; v++) b[v] = SSUP_LD(bp + 8 * v, v == nv - 1);
        for (int i = 0; i < mr; i++) {
            const __m256 av = _mm256_broadcast_ss((const float *)(a[i / 3] + (i % 3) * rs));
            for (int v = 0; v < nv; v++) acc[i][v] = _mm256_fmadd_ps(av, b[v], acc[i][v]);
        }
        for (int g = 0; g < (mr + 2) / 3; g++) a[g] += cs;
    }
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    __m256 z[3];
    for (int v = 0; v < nv; v++) z[v] = bias ? SSUP_LD(bias + 8 * v, v == nv - 1) : va;
    for (int i = 0; i < mr; i++) {
        float *ci = C + i * ldc;
        for (int v = 0; v < nv; v++) {
            __m256 y = _mm256_mul_ps(va, acc[i][v]);
            if (beta != 0) y = _mm256_fmadd_ps(vb, SSUP_LD(ci + 8 * v, v == nv - 1), y);
            if (bias) y = _mm256_add_ps(y, z[v]);
            if (masked && v == nv - 1) _mm256_maskstore_ps(ci + 8 * v, mk, y);
            else _mm256_storeu_ps(ci + 8 * v, y);
        }
    }
}
#undef SSUP_LD

#define SSUP_CALL(MRV, NV, MSK)                                                             \
    ssup_tile(MRV, NV, MSK, K, alpha, A + i * rsa, rsa, csa, B, ldb, beta, C + i * ldc, ldc,  \
              bias, mk)
#define SSUP_CASE(MRV, NV, MSK) case MRV: SSUP_CALL(MRV, NV, MSK); break;
#define SSUP_SW3(NV, MSK) SSUP_CASE(3, NV, MSK) SSUP_CASE(2, NV, MSK) \
                          default: SSUP_CALL(1, NV, MSK); break;
#define SSUP_SW5(NV, MSK) SSUP_CASE(5, NV, MSK) SSUP_CASE(4, NV, MSK) SSUP_SW3(NV, MSK)
#define SSUP_SW6(NV, MSK) SSUP_CASE(6, NV, MSK) SSUP_SW5(NV, MSK)
#define SSUP_SW8(NV, MSK) SSUP_CASE(8, NV, MSK) SSUP_CASE(7, NV, MSK) SSUP_SW6(NV, MSK)
/* One column strip (nv vectors, the last one with rem lanes when masked): its M rows in t
 * tiles of r or r+1 (<= MAXR) rows. A function of its own, so that the row loop keeps few
 * registers live around the tiles (inlined into the column loop, the tiles spilled). The
 * masked tiles hold at most 10 accumulators: the mask and the alpha broadcast take two more
 * registers. */
#define SSUP_STRIP(NAME, NV, MSK, MAXR)                                                      \
    static __attribute__((noinline, target("avx2,fma"))) void NAME(                          \
        fp_idx M, fp_idx K, float alpha, const float *A, fp_idx rsa, fp_idx csa,           \
        const float *B, fp_idx ldb, float beta, float *C, fp_idx ldc, const float *bias,       \
        int rem)                                                                            \
    {                                                                                       \
        const __m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32(rem),                      \
                                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));   \
        const fp_idx t = (M + (MAXR) - 1) / (MAXR), r = M / t, nhi = M % t;                 \
        for (fp_idx q = 0, i = 0; q < t; q++) {                                             \
            const int mr = (int)(r + (q >= t - nhi));                                       \
            switch (mr) { SSUP_SW##MAXR(NV, MSK) }                                          \
            i += mr;                                                                        \
        }                                                                                   \
    }
SSUP_STRIP(ssup_strip2, 2, 0, 6)
SSUP_STRIP(ssup_strip2m, 2, 1, 5)
SSUP_STRIP(ssup_strip3m, 3, 1, 3)
SSUP_STRIP(ssup_strip1, 1, 0, 8)
SSUP_STRIP(ssup_strip1m, 1, 1, 8)

#define SSUP_RUN(NAME, W)                                                                  \
    NAME(M, K, alpha, A, rsa, csa, B + j, ldb, beta, C + j, ldc, bias ? bias + j : NULL,    \
         (int)((W) % 8))

FP_AVX2 void fp_sgemm_sup_avx2(int trans_a, fp_idx M, fp_idx N, fp_idx K, float alpha,
                               const float *A, fp_idx lda, const float *B, fp_idx ldb,
                               float beta, float *C, fp_idx ldc, const float *bias)
{
    const fp_idx rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
    /* strips of 16 columns; a remainder of 1..7 makes the last one 17..23 wide */
    fp_idx nw = N / 16 * 16;
    if (N % 16 != 0 && N % 16 < 8 && nw > 0) nw -= 16;
    const fp_idx w = N - nw;   /* the last strip: 0, 1..15 or 17..23 columns */
    /* j outer: a column strip of B (K x 16) stays in L1 while all rows go by */
    fp_idx j = 0;
    for (; j < nw; j += 16) SSUP_RUN(ssup_strip2, 0);
    if (w > 16) SSUP_RUN(ssup_strip3m, w);
    else if (w > 8) SSUP_RUN(ssup_strip2m, w);
    else if (w == 8) SSUP_RUN(ssup_strip1, 0);
    else if (w > 0) SSUP_RUN(ssup_strip1m, w);
}

#else
/* keep the translation unit non-empty for ISO C */
typedef int fp_gemm_avx2_unused_t;
#endif
