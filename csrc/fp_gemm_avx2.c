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
 * Small-operand path (no packing). Register tile: mr (<= 6) rows x 2 vectors, reading
 * op(A) elements by broadcast (any stride, so trans_a is free) and B rows directly.
 * mr and `masked` are compile-time constants after inlining (one specialisation each).
 * Column edges use masked loads/stores (masked-out lanes are never touched).
 * --------------------------------------------------------------------------------------- */
FP_AVX2_INLINE void dsup_tile(const int mr, const int masked, fp_idx K, double alpha,
                              const double *A, fp_idx rsa, fp_idx csa,
                              const double *B, fp_idx ldb, double beta, double *C,
                              fp_idx ldc, const double *bias, __m256i m0, __m256i m1)
{
    __m256d acc[6][2];
    for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm256_setzero_pd();
    const double *ap = A;
    for (fp_idx p = 0; p < K; p++) {
        const double *bp = B + p * ldb;
        const __m256d b0 = masked ? _mm256_maskload_pd(bp, m0) : _mm256_loadu_pd(bp);
        const __m256d b1 = masked ? _mm256_maskload_pd(bp + 4, m1) : _mm256_loadu_pd(bp + 4);
        for (int i = 0; i < mr; i++) {
            const __m256d av = _mm256_broadcast_sd(ap + i * rsa);
            acc[i][0] = _mm256_fmadd_pd(av, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_pd(av, b1, acc[i][1]);
        }
        ap += csa;
    }
    const __m256d va = _mm256_set1_pd(alpha), vb = _mm256_set1_pd(beta);
    __m256d z0 = _mm256_setzero_pd(), z1 = _mm256_setzero_pd();
    if (bias) {
        z0 = masked ? _mm256_maskload_pd(bias, m0) : _mm256_loadu_pd(bias);
        z1 = masked ? _mm256_maskload_pd(bias + 4, m1) : _mm256_loadu_pd(bias + 4);
    }
    for (int i = 0; i < mr; i++) {
        double *ci = C + i * ldc;
        __m256d y0 = _mm256_mul_pd(va, acc[i][0]), y1 = _mm256_mul_pd(va, acc[i][1]);
        if (beta != 0) {
            y0 = _mm256_fmadd_pd(vb, masked ? _mm256_maskload_pd(ci, m0) : _mm256_loadu_pd(ci), y0);
            y1 = _mm256_fmadd_pd(vb, masked ? _mm256_maskload_pd(ci + 4, m1)
                                            : _mm256_loadu_pd(ci + 4), y1);
        }
        if (bias) { y0 = _mm256_add_pd(y0, z0); y1 = _mm256_add_pd(y1, z1); }
        if (masked) {
            _mm256_maskstore_pd(ci, m0, y0);
            _mm256_maskstore_pd(ci + 4, m1, y1);
        } else {
            _mm256_storeu_pd(ci, y0);
            _mm256_storeu_pd(ci + 4, y1);
        }
    }
}

#define DSUP_CALL(MRV, MSK)                                                                 \
    dsup_tile(MRV, MSK, K, alpha, A + i * rsa, rsa, csa, B + j, ldb, beta, C + i * ldc + j,  \
              ldc, bias ? bias + j : NULL, m0, m1)
#define DSUP_SWITCH(MSK)                                                                    \
    switch (mr) {                                                                           \
    case 6: DSUP_CALL(6, MSK); break;                                                       \
    case 5: DSUP_CALL(5, MSK); break;                                                       \
    case 4: DSUP_CALL(4, MSK); break;                                                       \
    case 3: DSUP_CALL(3, MSK); break;                                                       \
    case 2: DSUP_CALL(2, MSK); break;                                                       \
    default: DSUP_CALL(1, MSK); break;                                                      \
    }

FP_AVX2 void fp_dgemm_sup_avx2(int trans_a, fp_idx M, fp_idx N, fp_idx K, double alpha,
                               const double *A, fp_idx lda, const double *B, fp_idx ldb,
                               double beta, double *C, fp_idx ldc, const double *bias)
{
    const fp_idx rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
    const __m256i lane0 = _mm256_setr_epi64x(0, 1, 2, 3), lane1 = _mm256_setr_epi64x(4, 5, 6, 7);
    /* j outer: a 2-vector column strip of B (K x 8) stays in L1 while all rows go by */
    for (fp_idx j = 0; j < N; j += 8) {
        const fp_idx nr = N - j < 8 ? N - j : 8;
        const __m256i vn = _mm256_set1_epi64x(nr);
        const __m256i m0 = _mm256_cmpgt_epi64(vn, lane0), m1 = _mm256_cmpgt_epi64(vn, lane1);
        for (fp_idx i = 0; i < M; i += 6) {
            const int mr = (int)(M - i < 6 ? M - i : 6);
            if (nr == 8) { DSUP_SWITCH(0) } else { DSUP_SWITCH(1) }
        }
    }
}

FP_AVX2_INLINE void ssup_tile(const int mr, const int masked, fp_idx K, float alpha,
                              const float *A, fp_idx rsa, fp_idx csa,
                              const float *B, fp_idx ldb, float beta, float *C,
                              fp_idx ldc, const float *bias, __m256i m0, __m256i m1)
{
    __m256 acc[6][2];
    for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    const float *ap = A;
    for (fp_idx p = 0; p < K; p++) {
        const float *bp = B + p * ldb;
        const __m256 b0 = masked ? _mm256_maskload_ps(bp, m0) : _mm256_loadu_ps(bp);
        const __m256 b1 = masked ? _mm256_maskload_ps(bp + 8, m1) : _mm256_loadu_ps(bp + 8);
        for (int i = 0; i < mr; i++) {
            const __m256 av = _mm256_broadcast_ss(ap + i * rsa);
            acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
        }
        ap += csa;
    }
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    __m256 z0 = _mm256_setzero_ps(), z1 = _mm256_setzero_ps();
    if (bias) {
        z0 = masked ? _mm256_maskload_ps(bias, m0) : _mm256_loadu_ps(bias);
        z1 = masked ? _mm256_maskload_ps(bias + 8, m1) : _mm256_loadu_ps(bias + 8);
    }
    for (int i = 0; i < mr; i++) {
        float *ci = C + i * ldc;
        __m256 y0 = _mm256_mul_ps(va, acc[i][0]), y1 = _mm256_mul_ps(va, acc[i][1]);
        if (beta != 0) {
            y0 = _mm256_fmadd_ps(vb, masked ? _mm256_maskload_ps(ci, m0) : _mm256_loadu_ps(ci), y0);
            y1 = _mm256_fmadd_ps(vb, masked ? _mm256_maskload_ps(ci + 8, m1)
                                            : _mm256_loadu_ps(ci + 8), y1);
        }
        if (bias) { y0 = _mm256_add_ps(y0, z0); y1 = _mm256_add_ps(y1, z1); }
        if (masked) {
            _mm256_maskstore_ps(ci, m0, y0);
            _mm256_maskstore_ps(ci + 8, m1, y1);
        } else {
            _mm256_storeu_ps(ci, y0);
            _mm256_storeu_ps(ci + 8, y1);
        }
    }
}

#define SSUP_CALL(MRV, MSK)                                                                 \
    ssup_tile(MRV, MSK, K, alpha, A + i * rsa, rsa, csa, B + j, ldb, beta, C + i * ldc + j,  \
              ldc, bias ? bias + j : NULL, m0, m1)
#define SSUP_SWITCH(MSK)                                                                    \
    switch (mr) {                                                                           \
    case 6: SSUP_CALL(6, MSK); break;                                                       \
    case 5: SSUP_CALL(5, MSK); break;                                                       \
    case 4: SSUP_CALL(4, MSK); break;                                                       \
    case 3: SSUP_CALL(3, MSK); break;                                                       \
    case 2: SSUP_CALL(2, MSK); break;                                                       \
    default: SSUP_CALL(1, MSK); break;                                                      \
    }

FP_AVX2 void fp_sgemm_sup_avx2(int trans_a, fp_idx M, fp_idx N, fp_idx K, float alpha,
                               const float *A, fp_idx lda, const float *B, fp_idx ldb,
                               float beta, float *C, fp_idx ldc, const float *bias)
{
    const fp_idx rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
    const __m256i lane0 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i lane1 = _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15);
    for (fp_idx j = 0; j < N; j += 16) {
        const fp_idx nr = N - j < 16 ? N - j : 16;
        const __m256i vn = _mm256_set1_epi32((int)nr);
        const __m256i m0 = _mm256_cmpgt_epi32(vn, lane0), m1 = _mm256_cmpgt_epi32(vn, lane1);
        for (fp_idx i = 0; i < M; i += 6) {
            const int mr = (int)(M - i < 6 ? M - i : 6);
            if (nr == 16) { SSUP_SWITCH(0) } else { SSUP_SWITCH(1) }
        }
    }
}

#else
/* keep the translation unit non-empty for ISO C */
typedef int fp_gemm_avx2_unused_t;
#endif
