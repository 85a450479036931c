/* fp_gemm_ref.c: the plain reference GEMM (contract in fp_gemm.h).
 * Correct for every shape, slow on purpose: it is what the tests and the fast path compare
 * against, so it must stay obvious. Accumulates each C element in the element type, k ascending. */
#include "fp_gemm.h"

#define FP_GEMM_REF(NAME, T)                                                              \
void NAME(int trans_a, int trans_b, fp_idx M, fp_idx N, fp_idx K,                         \
          T alpha, const T *A, fp_idx lda, const T *B, fp_idx ldb,                        \
          T beta, T *C, fp_idx ldc, const T *bias)                                        \
{                                                                                         \
    for (fp_idx i = 0; i < M; i++) {                                                      \
        for (fp_idx j = 0; j < N; j++) {                                                  \
            T acc = 0;                                                                    \
            for (fp_idx k = 0; k < K; k++) {                                              \
                T a = trans_a ? A[k * lda + i] : A[i * lda + k];                          \
                T b = trans_b ? B[j * ldb + k] : B[k * ldb + j];                          \
                acc += a * b;                                                             \
            }                                                                             \
            T c = alpha * acc;                                                            \
            if (beta != 0) c += beta * C[i * ldc + j];                                    \
            if (bias) c += bias[j];                                                       \
            C[i * ldc + j] = c;                                                           \
        }                                                                                 \
    }                                                                                     \
}

FP_GEMM_REF(fp_dgemm_ref, double)
FP_GEMM_REF(fp_sgemm_ref, float)
