/* fp_gemm.h: the GEMM contract of fastprop (floor 1). Plain C, no Python headers.
 *
 * All matrices are row-major. For trans flags:
 *   op(A) is M x K:  trans_a == 0 -> op(A)[i][k] = A[i*lda + k]
 *                    trans_a != 0 -> op(A)[i][k] = A[k*lda + i]
 *   op(B) is K x N:  trans_b == 0 -> op(B)[k][j] = B[k*ldb + j]
 *                    trans_b != 0 -> op(B)[k][j] = B[j*ldb + k]
 *
 * fp_<s|d>gemm computes  C = alpha * op(A) * op(B) + beta * C  (+ bias),
 * where bias, when not NULL, is a row vector of N values added to every row of C.
 * Contract:
 *   - When beta == 0, C is never read: NaN or garbage in C does not propagate.
 *   - K == 0 gives C = beta*C (+ bias); M == 0 or N == 0 touches nothing.
 *   - A, B and bias are never written; C must not alias A, B or bias.
 *   - The result for a given thread count is the same on every run (work is split over
 *     rows/columns of C, never over K), and does not depend on the thread count either.
 *   - No allocation after the first call of a thread (packing buffers are kept per thread).
 */
#ifndef FP_GEMM_H
#define FP_GEMM_H

#include <stddef.h>
#include "fp_runtime.h"   /* the path chosen at run time, threads */

#ifdef __cplusplus
extern "C" {
#endif

typedef ptrdiff_t fp_idx;

void fp_dgemm(int trans_a, int trans_b, fp_idx M, fp_idx N, fp_idx K,
              double alpha, const double *A, fp_idx lda,
              const double *B, fp_idx ldb,
              double beta, double *C, fp_idx ldc, const double *bias);
void fp_sgemm(int trans_a, int trans_b, fp_idx M, fp_idx N, fp_idx K,
              float alpha, const float *A, fp_idx lda,
              const float *B, fp_idx ldb,
              float beta, float *C, fp_idx ldc, const float *bias);

/* Plain triple loop with the same contract: the reference the tests compare against. */
void fp_dgemm_ref(int trans_a, int trans_b, fp_idx M, fp_idx N, fp_idx K,
                  double alpha, const double *A, fp_idx lda,
                  const double *B, fp_idx ldb,
                  double beta, double *C, fp_idx ldc, const double *bias);
void fp_sgemm_ref(int trans_a, int trans_b, fp_idx M, fp_idx N, fp_idx K,
                  float alpha, const float *A, fp_idx lda,
                  const float *B, fp_idx ldb,
                  float beta, float *C, fp_idx ldc, const float *bias);

#ifdef __cplusplus
}
#endif
#endif
