/* fp_gemm_generic.c: portable C micro-kernels and small-operand path of fastprop's GEMM.
 * Contracts in fp_gemm_kernels.h. Plain C99, no intrinsics: used on CPUs without AVX2/FMA,
 * on non-x86 builds, and when FASTPROP_GEMM_ISA=generic. The fixed-size loops are written so
 * that the compiler keeps the accumulators in registers and vectorises over NR. */
#include "fp_gemm_kernels.h"

#define FP_GEN_UKR(NAME, T, MR, NR)                                                         \
void NAME(fp_idx k, T alpha, const T *a, const T *b, T beta, T *c, fp_idx ldc,              \
          const T *bias)                                                                    \
{                                                                                           \
    T acc[MR][NR];                                                                          \
    for (int i = 0; i < MR; i++)                                                            \
        for (int j = 0; j < NR; j++) acc[i][j] = 0;                                         \
    for (fp_idx p = 0; p < k; p++) {                                                        \
        const T *ap = a + p * MR, *bp = b + p * NR;                                         \
        for (int i = 0; i < MR; i++) {                                                      \
            const T ai = ap[i];                                                             \
            for (int j = 0; j < NR; j++) acc[i][j] += ai * bp[j];                           \
        }                                                                                   \
    }                                                                                       \
    for (int i = 0; i < MR; i++) {                                                          \
        T *ci = c + i * ldc;                                                                \
        if (beta == 0) {                                                                    \
            for (int j = 0; j < NR; j++) ci[j] = alpha * acc[i][j];                         \
        } else {                                                                            \
            for (int j = 0; j < NR; j++) ci[j] = alpha * acc[i][j] + beta * ci[j];          \
        }                                                                                   \
        if (bias)                                                                           \
            for (int j = 0; j < NR; j++) ci[j] += bias[j];                                  \
    }                                                                                       \
}

FP_GEN_UKR(fp_dgemm_generic_4x4, double, FP_GEN_D_MR, FP_GEN_D_NR)
FP_GEN_UKR(fp_sgemm_generic_4x8, float, FP_GEN_S_MR, FP_GEN_S_NR)

/* Small-operand path: row i of C, JB columns at a time, accumulated in a local array
 * (so C is only read for beta != 0), k ascending. */
#define FP_GEN_SUP_JB 64
#define FP_GEN_SUP(NAME, T)                                                                 \
void NAME(int trans_a, fp_idx M, fp_idx N, fp_idx K, T alpha, const T *A, fp_idx lda,       \
          const T *B, fp_idx ldb, T beta, T *C, fp_idx ldc, const T *bias)                  \
{                                                                                           \
    const fp_idx rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;                          \
    T acc[FP_GEN_SUP_JB];                                                                   \
    for (fp_idx i = 0; i < M; i++) {                                                        \
        const T *ai = A + i * rsa;                                                          \
        T *ci = C + i * ldc;                                                                \
        for (fp_idx j0 = 0; j0 < N; j0 += FP_GEN_SUP_JB) {                                  \
            const fp_idx nb = N - j0 < FP_GEN_SUP_JB ? N - j0 : FP_GEN_SUP_JB;              \
            for (fp_idx j = 0; j < nb; j++) acc[j] = 0;                                     \
            for (fp_idx p = 0; p < K; p++) {                                                \
                const T av = ai[p * csa];                                                   \
                const T *bp = B + p * ldb + j0;                                             \
                for (fp_idx j = 0; j < nb; j++) acc[j] += av * bp[j];                       \
            }                                                                               \
            if (beta == 0) {                                                                \
                for (fp_idx j = 0; j < nb; j++) ci[j0 + j] = alpha * acc[j];                \
            } else {                                                                        \
                for (fp_idx j = 0; j < nb; j++)                                             \
                    ci[j0 + j] = alpha * acc[j] + beta * ci[j0 + j];                        \
            }                                                                               \
            if (bias)                                                                       \
                for (fp_idx j = 0; j < nb; j++) ci[j0 + j] += bias[j0 + j];                 \
        }                                                                                   \
    }                                                                                       \
}

FP_GEN_SUP(fp_dgemm_sup_generic, double)
FP_GEN_SUP(fp_sgemm_sup_generic, float)
