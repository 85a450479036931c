/* gemm_check.c: correctness harness and benchmark of fastprop's GEMM (csrc/fp_gemm*.c).
 *
 * Build (from the repository root; no -march flags, the wheel flags are the same):
 *   gcc -O3 -ffp-contract=off -fopenmp -Wall -Wextra -Icsrc csrc/fp_gemm.c csrc/fp_gemm_avx512.c csrc/fp_gemm_avx2.c \
 *       csrc/fp_gemm_generic.c csrc/fp_gemm_ref.c csrc/fp_threads.c csrc/tests/gemm_check.c \
 *       -lm -o gemm_check
 * or: make -C csrc/tests   (builds csrc/tests/gemm_check and runs "all")
 *
 * Run:
 *   ./gemm_check all         check every configuration: it re-runs itself ("check") with
 *                            FASTPROP_GEMM_ISA unset/avx2/generic, and with the no-packing path
 *                            disabled + every packed product parallel (so small shapes go
 *                            through the blocked frame and its edge tiles, 1..4 threads), and
 *                            with the no-packing threshold at 1 (so products of few rows take
 *                            the few-row path in KC blocks, compared bitwise with the packed
 *                            path's rows).
 *   ./gemm_check check       check the configuration given by the environment.
 *   ./gemm_check bench [n..] GFLOP/s, square n (default 64..2048), float32 and float64,
 *                            1 and 2 threads, median of repeats.
 *   ./gemm_check shapes [t]  GFLOP/s of MLP-like shapes (for tuning the thresholds).
 *   ./gemm_check one f32|f64 ta tb M N K threads    GFLOP/s of one product.
 *   ./gemm_check few [f32|f64 [K [N [Mmax [samples]]]]]   microseconds and GFLOP/s of
 *                            M x K times K x N for M = 1..Mmax (default f32 784 256 16 31),
 *                            one thread, median of thread CPU time.
 *   ./gemm_check mlp [samples]  microseconds of the no-packing products of MLP training
 *                            steps (digits nets, the small products of 784-256-128-10),
 *                            one thread, median of thread CPU time (default 31 samples).
 * Exit status 0 when every check passed.
 */
#define _POSIX_C_SOURCE 200809L
#include "fp_gemm.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng_u64(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}
static double rng_unif(void) { return (double)(rng_u64() >> 11) * (1.0 / 9007199254740992.0); }
static long rng_int(long lo, long hi) { return lo + (long)(rng_u64() % (uint64_t)(hi - lo + 1)); }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long n_checks = 0, n_fail = 0;

/* ------------------------------------------------------------------------------------------
 * One check, templated over the dtype. Compares against the reference with an error bound
 * (K+4)*eps*(|alpha| sum|a||b| + |beta c| + |bias|) per element, checks that A, B, bias are
 * not written, that C outside the M x N window (padding up to ldc) is untouched, and that
 * NaN in C does not propagate when beta == 0.
 * ------------------------------------------------------------------------------------------ */
#define DEF_CHECK(NAME, T, GEMM, REF, EPS)                                                   \
static int NAME(int ta, int tb, fp_idx M, fp_idx N, fp_idx K, fp_idx pa, fp_idx pb,          \
                fp_idx pc, T alpha, T beta, int use_bias, const char *what)                 \
{                                                                                            \
    const fp_idx ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;         \
    const fp_idx lda = ac + pa, ldb = bc + pb, ldc = N + pc;                                 \
    size_t na = (size_t)(ar * lda) + 1, nb = (size_t)(br * ldb) + 1, nc = (size_t)(M * ldc) + 1; \
    T *A = malloc(na * sizeof(T)), *B = malloc(nb * sizeof(T));                              \
    T *A0 = malloc(na * sizeof(T)), *B0 = malloc(nb * sizeof(T));                            \
    T *C = malloc(nc * sizeof(T)), *C0 = malloc(nc * sizeof(T)), *R = malloc(nc * sizeof(T)); \
    T *bias = malloc((size_t)(N + 1) * sizeof(T));                                           \
    double *mag = malloc(nc * sizeof(double));                                               \
    int ok = 1;                                                                              \
    for (size_t i = 0; i < na; i++) A[i] = A0[i] = (T)(2 * rng_unif() - 1);                  \
    for (size_t i = 0; i < nb; i++) B[i] = B0[i] = (T)(2 * rng_unif() - 1);                  \
    for (fp_idx j = 0; j <= N; j++) bias[j] = (T)(2 * rng_unif() - 1);                       \
    for (size_t i = 0; i < nc; i++) C[i] = (T)(2 * rng_unif() - 1);                          \
    if (beta == 0)   /* C must not be read: fill the window with NaN */                      \
        for (fp_idx i = 0; i < M; i++)                                                       \
            for (fp_idx j = 0; j < N; j++) C[i * ldc + j] = (T)NAN;                          \
    memcpy(C0, C, nc * sizeof(T));                                                           \
    memcpy(R, C, nc * sizeof(T));                                                            \
    const T *bp = use_bias ? bias : NULL;                                                    \
    GEMM(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bp);                          \
    REF(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc, bp);                           \
    for (fp_idx i = 0; i < M; i++)                                                           \
        for (fp_idx j = 0; j < N; j++) {                                                     \
            double s = 0;                                                                    \
            for (fp_idx k = 0; k < K; k++) {                                                 \
                double a = ta ? A[k * lda + i] : A[i * lda + k];                             \
                double b = tb ? B[j * ldb + k] : B[k * ldb + j];                             \
                s += fabs(a * b);                                                            \
            }                                                                                \
            s *= fabs((double)alpha);                                                        \
            if (beta != 0) s += fabs((double)beta * C0[i * ldc + j]);                        \
            if (use_bias) s += fabs((double)bias[j]);                                        \
            mag[i * ldc + j] = s;                                                            \
        }                                                                                    \
    double worst = 0;                                                                        \
    for (fp_idx i = 0; i < M && ok; i++)                                                     \
        for (fp_idx j = 0; j < ldc; j++) {                                                   \
            const size_t q = (size_t)(i * ldc + j);                                          \
            if (j >= N) {                                                                    \
                if (memcmp(&C[q], &C0[q], sizeof(T))) {                                      \
                    printf("FAIL %s: padding of C written at (%ld,%ld)\n", what, (long)i, (long)j); \
                    ok = 0; break;                                                           \
                }                                                                            \
                continue;                                                                    \
            }                                                                                \
            const double err = fabs((double)C[q] - (double)R[q]);                            \
            const double tol = (double)(K + 4) * (EPS) * mag[q] + 1e-30;                     \
            if (!(err <= tol)) {                                                             \
                printf("FAIL %s: ta=%d tb=%d M=%ld N=%ld K=%ld lda+%ld ldb+%ld ldc+%ld "     \
                       "alpha=%g beta=%g bias=%d at (%ld,%ld): got %.17g ref %.17g tol %.3g\n", \
                       what, ta, tb, (long)M, (long)N, (long)K, (long)pa, (long)pb, (long)pc, \
                       (double)alpha, (double)beta, use_bias, (long)i, (long)j,              \
                       (double)C[q], (double)R[q], tol);                                     \
                ok = 0; break;                                                               \
            }                                                                                \
            if (mag[q] > 0 && err / mag[q] > worst) worst = err / mag[q];                    \
        }                                                                                    \
    if (M > 0 && memcmp(&C[M * ldc], &C0[M * ldc], sizeof(T))) {                             \
        printf("FAIL %s: wrote past the end of C\n", what); ok = 0;                          \
    }                                                                                        \
    if (memcmp(A, A0, na * sizeof(T)) || memcmp(B, B0, nb * sizeof(T))) {                    \
        printf("FAIL %s: A or B was written\n", what); ok = 0;                               \
    }                                                                                        \
    if (M == 0 || N == 0) {                                                                  \
        if (memcmp(C, C0, nc * sizeof(T))) { printf("FAIL %s: C touched for empty product\n", what); ok = 0; } \
    }                                                                                        \
    free(A); free(B); free(A0); free(B0); free(C); free(C0); free(R); free(bias); free(mag); \
    n_checks++;                                                                              \
    if (!ok) n_fail++;                                                                       \
    return ok;                                                                               \
}

DEF_CHECK(check_d, double, fp_dgemm, fp_dgemm_ref, 1.1102230246251565e-16)
DEF_CHECK(check_s, float, fp_sgemm, fp_sgemm_ref, 5.9604644775390625e-08)

static const double alphas[] = { 1.0, -0.75, 2.5, 0.0 };
static const double betas[] = { 0.0, 1.0, -0.5, 0.0 };

static void one(int dt, int ta, int tb, fp_idx M, fp_idx N, fp_idx K, fp_idx pa, fp_idx pb,
                fp_idx pc, double alpha, double beta, int bias, const char *what)
{
    if (dt) check_d(ta, tb, M, N, K, pa, pb, pc, alpha, beta, bias, what);
    else check_s(ta, tb, M, N, K, pa, pb, pc, (float)alpha, (float)beta, bias, what);
}

/* Bitwise determinism: the same product with 1..4 threads must give identical bits. */
#define DEF_DET(NAME, T, GEMM)                                                               \
static void NAME(int ta, int tb, fp_idx M, fp_idx N, fp_idx K)                               \
{                                                                                            \
    T *A = malloc((size_t)(M * K) * sizeof(T)), *B = malloc((size_t)(K * N) * sizeof(T));    \
    T *C1 = malloc((size_t)(M * N) * sizeof(T)), *C2 = malloc((size_t)(M * N) * sizeof(T));  \
    T *bias = malloc((size_t)N * sizeof(T));                                                 \
    for (fp_idx i = 0; i < M * K; i++) A[i] = (T)(2 * rng_unif() - 1);                       \
    for (fp_idx i = 0; i < K * N; i++) B[i] = (T)(2 * rng_unif() - 1);                       \
    for (fp_idx i = 0; i < N; i++) bias[i] = (T)(2 * rng_unif() - 1);                        \
    for (fp_idx i = 0; i < M * N; i++) C1[i] = (T)(2 * rng_unif() - 1);                      \
    memcpy(C2, C1, (size_t)(M * N) * sizeof(T));                                             \
    fp_idx lda = ta ? M : K, ldb = tb ? K : N;                                               \
    int save = fp_get_num_threads();                                                         \
    fp_set_num_threads(1);                                                                   \
    GEMM(ta, tb, M, N, K, (T)0.5, A, lda, B, ldb, (T)0.25, C1, N, bias);                     \
    for (int t = 2; t <= 4; t++) {                                                           \
        T *C3 = malloc((size_t)(M * N) * sizeof(T));                                         \
        memcpy(C3, C2, (size_t)(M * N) * sizeof(T));                                         \
        fp_set_num_threads(t);                                                               \
        GEMM(ta, tb, M, N, K, (T)0.5, A, lda, B, ldb, (T)0.25, C3, N, bias);                 \
        n_checks++;                                                                          \
        if (memcmp(C1, C3, (size_t)(M * N) * sizeof(T))) {                                   \
            printf("FAIL determinism %s: ta=%d tb=%d M=%ld N=%ld K=%ld threads=%d\n", #T,     \
                   ta, tb, (long)M, (long)N, (long)K, t);                                    \
            n_fail++;                                                                        \
        }                                                                                    \
        free(C3);                                                                            \
    }                                                                                        \
    fp_set_num_threads(save);                                                                \
    free(A); free(B); free(C1); free(C2); free(bias);                                        \
}
DEF_DET(det_d, double, fp_dgemm)
DEF_DET(det_s, float, fp_sgemm)

/* The frame's few-row limit (FP_GEMM_SMALLM_MAX_M in fp_gemm.c): the checks below go one row
 * past it. */
#define FEW_ROWS 16

/* Bits of the few-row paths: rows 0..M-1 of op(A) B (B not transposed), computed as an
 * M-row product for M = 1..FEW_ROWS+1, must equal the same rows of one MB-row product
 * (MB = 40: the packed path when it is past the no-packing threshold; with
 * FASTPROP_GEMM_SUP_MNK=1 every product with N > 8 is, so the few-row path's KC blocks are
 * compared with the packed path's). Under the default thresholds only the shapes where the
 * M-row and the MB-row product take the same kind of path qualify (K <= KC: one block, where
 * every path sums alike; or N*K past the threshold for M = 1 already). */
#define DEF_ROWS(NAME, T, GEMM)                                                              static void NAME(int ta, fp_idx N, fp_idx K, T alpha, T beta, int use_bias)                  {                                                                                                enum { MB = 40 };                                                                            const fp_idx lda = ta ? MB : K;                                                              T *A = malloc((size_t)(MB * K) * sizeof(T)), *B = malloc((size_t)(K * N) * sizeof(T));       T *C0 = malloc((size_t)(MB * N) * sizeof(T)), *Cb = malloc((size_t)(MB * N) * sizeof(T));     T *Cm = malloc((size_t)(MB * N) * sizeof(T)), *bias = malloc((size_t)N * sizeof(T));         for (fp_idx i = 0; i < MB * K; i++) A[i] = (T)(2 * rng_unif() - 1);                          for (fp_idx i = 0; i < K * N; i++) B[i] = (T)(2 * rng_unif() - 1);                           for (fp_idx i = 0; i < N; i++) bias[i] = (T)(2 * rng_unif() - 1);                            for (fp_idx i = 0; i < MB * N; i++) C0[i] = beta == 0 ? (T)NAN : (T)(2 * rng_unif() - 1);     const T *bp = use_bias ? bias : NULL;                                                        memcpy(Cb, C0, (size_t)(MB * N) * sizeof(T));                                               GEMM(ta, 0, MB, N, K, alpha, A, lda, B, N, beta, Cb, N, bp);                                 for (fp_idx M = 1; M <= FEW_ROWS + 1; M++) {                                                     /* op(A)'s first M rows: the top rows of A, or (transposed) A with its row stride */         memcpy(Cm, C0, (size_t)(M * N) * sizeof(T));                                                 GEMM(ta, 0, M, N, K, alpha, A, lda, B, N, beta, Cm, N, bp);                                  n_checks++;                                                                                  if (memcmp(Cm, Cb, (size_t)(M * N) * sizeof(T))) {                                               fp_idx q = 0;                                                                                while (!memcmp(&Cm[q], &Cb[q], sizeof(T))) q++;                                              printf("FAIL few-row bits %s: ta=%d M=%ld N=%ld K=%ld alpha=%g beta=%g bias=%d "                    "at (%ld,%ld): %.17g, %d-row product %.17g\n", #T, ta, (long)M, (long)N,                      (long)K, (double)alpha, (double)beta, use_bias, (long)(q / N),                               (long)(q % N), (double)Cm[q], MB, (double)Cb[q]);                                     n_fail++;                                                                                }                                                                                        }                                                                                            free(A); free(B); free(C0); free(Cb); free(Cm); free(bias);                              }
DEF_ROWS(rows_d, double, fp_dgemm)
DEF_ROWS(rows_s, float, fp_sgemm)

static int run_checks(void)
{
    const char *sup = getenv("FASTPROP_GEMM_SUP_MNK"), *par = getenv("FASTPROP_GEMM_PAR_MNK");
    printf("== check: isa=%s threads=%d sup_mnk=%s par_mnk=%s\n", fp_gemm_isa(),
           fp_get_num_threads(), sup ? sup : "(default)", par ? par : "(default)");
    const double t0 = now_s();
    long before = n_fail;

    /* 1. shapes 1..40 (M, N exhaustive; K from a set), all trans, rotating variants */
    static const fp_idx ks[] = { 1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 40 };
    const int nks = (int)(sizeof ks / sizeof ks[0]);
    long v = 0;
    for (fp_idx M = 1; M <= 40; M++)
        for (fp_idx N = 1; N <= 40; N++)
            for (int t = 0; t < 4; t++) {
                const int dt = (int)(v & 1);
                const fp_idx K = ks[(M * 7 + N * 3 + t) % nks];
                one(dt, t & 1, t >> 1, M, N, K, v % 3, (v / 3) % 2, (v / 5) % 3,
                    alphas[v % 4], betas[(v / 4) % 4], (int)((v / 2) % 2), "small");
                v++;
            }
    /* 2. alpha/beta/bias/trans variants on a few fixed shapes crossing the block sizes */
    static const fp_idx shp[][3] = { { 6, 8, 1 }, { 6, 16, 256 }, { 7, 17, 257 }, { 72, 80, 300 },
                                     { 145, 33, 513 }, { 13, 4100, 5 }, { 100, 100, 100 } };
    for (int s = 0; s < (int)(sizeof shp / sizeof shp[0]); s++)
        for (int t = 0; t < 4; t++)
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 4; b++)
                    for (int bi = 0; bi < 2; bi++)
                        one((a + b + bi) & 1, t & 1, t >> 1, shp[s][0], shp[s][1], shp[s][2],
                            a, b, bi * 2, alphas[a], betas[b], bi, "variants");
    /* 3. K == 0 and empty products */
    for (int t = 0; t < 4; t++)
        for (int b = 0; b < 4; b++)
            for (int dt = 0; dt < 2; dt++) {
                one(dt, t & 1, t >> 1, 5, 9, 0, 1, 2, 3, 1.5, betas[b], b & 1, "K=0");
                one(dt, t & 1, t >> 1, 0, 9, 4, 1, 2, 3, 1.5, betas[b], b & 1, "M=0");
                one(dt, t & 1, t >> 1, 5, 0, 4, 1, 2, 3, 1.5, betas[b], b & 1, "N=0");
            }
    /* 4. random odd sizes up to ~700 */
    for (int r = 0; r < 48; r++) {
        fp_idx M = rng_int(1, 700), N = rng_int(1, 700), K = rng_int(1, 700);
        if (r % 4 == 1) M = rng_int(1, 12);        /* skinny cases, as in MLP layers */
        if (r % 4 == 2) N = rng_int(1, 12);
        if (r % 8 == 3) K = rng_int(1, 12);
        one(r & 1, (r >> 1) & 1, (r >> 2) & 1, M, N, K, rng_int(0, 9), rng_int(0, 9),
            rng_int(0, 9), alphas[r % 4], betas[(r / 3) % 4], (r / 5) % 2, "random");
    }
    /* 5. few rows (B not transposed: the forward pass's X W): M = 1..FEW_ROWS+1 against the
     * reference, odd N and K around the vector widths, KC (256) and a 784-wide input, every
     * alpha/beta/bias variant (beta 0 with NaN in C), both layouts of A */
    static const fp_idx fn[] = { 1, 7, 17, 33, 255, 257, 784 };
    static const fp_idx fk[] = { 1, 7, 17, 255, 257, 784 };
    v = 0;
    for (fp_idx M = 1; M <= FEW_ROWS + 1; M++)
        for (int a = 0; a < (int)(sizeof fn / sizeof fn[0]); a++)
            for (int b = 0; b < (int)(sizeof fk / sizeof fk[0]); b++, v++)
                one((int)(v & 1), (int)((v >> 1) & 1), 0, M, fn[a], fk[b], v % 3, (v / 3) % 2,
                    (v / 5) % 3, alphas[v % 4], betas[(v / 4) % 4], (int)((v / 2) % 2), "few");
    /* ... and their bits against the rows of a larger product (DEF_ROWS above) */
    {
        const char *e = getenv("FASTPROP_GEMM_SUP_MNK");
        const int all = e && atof(e) > 0 && atof(e) < 100;   /* every N > 8 product: KC blocks */
        static const fp_idx rk[][2] = { { 7, 17 }, { 255, 256 }, { 33, 255 }, { 300, 200 },
                                        { 17, 784 }, { 256, 784 }, { 301, 1000 },
                                        { 1601, 1100 }, { 1024, 1700 } };
        for (int r = 0; r < (int)(sizeof rk / sizeof rk[0]); r++) {
            const fp_idx N = rk[r][0], K = rk[r][1];
            if (!all && K > 256 && N * K <= 1728000) continue;
            for (int q = 0; q < 4; q++) {
                rows_d(q & 1, N, K, alphas[q], betas[q], q & 1);
                rows_s(q & 1, N, K, alphas[(q + 1) % 4], betas[(q + 2) % 4], !(q & 1));
            }
        }
    }
    /* 6. bitwise determinism across thread counts */
    /* { 6, 600, 900 }: one row tile, so threads split columns only and pack their own B
     * panels, over several K blocks (the last one short); { 3, 1500, 1300 }: the few-row path
     * past the threading threshold (threads split its columns) */
    static const fp_idx dsh[][3] = { { 37, 53, 29 }, { 200, 300, 270 }, { 613, 97, 520 },
                                     { 7, 1000, 300 }, { 1000, 7, 300 }, { 6, 600, 900 },
                                     { 3, 1500, 1300 } };
    for (int s = 0; s < (int)(sizeof dsh / sizeof dsh[0]); s++)
        for (int t = 0; t < 4; t++) {
            det_d(t & 1, t >> 1, dsh[s][0], dsh[s][1], dsh[s][2]);
            det_s(t & 1, t >> 1, dsh[s][0], dsh[s][1], dsh[s][2]);
        }
    printf("   %ld checks so far, %ld failures in this run (%.1f s)\n", n_checks,
           n_fail - before, now_s() - t0);
    return n_fail == 0;
}

/* ------------------------------------------------------------------------------------------ */
static int cmp_dbl(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median GFLOP/s of fp_<d|s>gemm(ta, tb) on M x N x K, C = A*B (+0*C) */
static double bench_one(int dt, int ta, int tb, fp_idx M, fp_idx N, fp_idx K, int threads)
{
    const size_t es = dt ? sizeof(double) : sizeof(float);
    void *A = malloc((size_t)(M * K) * es), *B = malloc((size_t)(K * N) * es);
    void *C = malloc((size_t)(M * N) * es);
    for (fp_idx i = 0; i < M * K; i++) {
        if (dt) ((double *)A)[i] = rng_unif(); else ((float *)A)[i] = (float)rng_unif();
    }
    for (fp_idx i = 0; i < K * N; i++) {
        if (dt) ((double *)B)[i] = rng_unif(); else ((float *)B)[i] = (float)rng_unif();
    }
    memset(C, 0, (size_t)(M * N) * es);
    const fp_idx lda = ta ? M : K, ldb = tb ? K : N;
    fp_set_num_threads(threads);
    const double flops = 2.0 * (double)M * (double)N * (double)K;
    /* inner repeats so that one sample takes >= ~30 ms */
    int inner = 1;
    for (;;) {
        const double t0 = now_s();
        for (int r = 0; r < inner; r++) {
            if (dt) fp_dgemm(ta, tb, M, N, K, 1.0, A, lda, B, ldb, 0.0, C, N, NULL);
            else fp_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N, NULL);
        }
        if (now_s() - t0 > 0.03 || inner > (1 << 24)) break;
        inner *= 2;
    }
    enum { SAMPLES = 7 };
    double g[SAMPLES];
    for (int s = 0; s < SAMPLES; s++) {
        const double t0 = now_s();
        for (int r = 0; r < inner; r++) {
            if (dt) fp_dgemm(ta, tb, M, N, K, 1.0, A, lda, B, ldb, 0.0, C, N, NULL);
            else fp_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N, NULL);
        }
        g[s] = flops * inner / (now_s() - t0) * 1e-9;
    }
    qsort(g, SAMPLES, sizeof g[0], cmp_dbl);
    free(A); free(B); free(C);
    return g[SAMPLES / 2];
}

/* CPU time of this thread: on a shared host it leaves out the time other processes hold the
 * core (not their effect on the caches), so one-thread medians vary less than wall time. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* median microseconds of one fp_<d|s>gemm(ta, tb) call, M x N x K, C = A*B (+ bias when
 * use_bias), one thread, thread CPU time, over `samples` samples of enough calls to take
 * >= 2 ms each */
static double bench_cpu_us_t(int dt, int ta, int tb, fp_idx M, fp_idx N, fp_idx K,
                             int use_bias, int samples)
{
    const size_t es = dt ? sizeof(double) : sizeof(float);
    void *A = malloc((size_t)(M * K) * es), *B = malloc((size_t)(K * N) * es);
    void *C = malloc((size_t)(M * N) * es), *bias = malloc((size_t)N * es);
    for (fp_idx i = 0; i < M * K; i++) {
        if (dt) ((double *)A)[i] = rng_unif(); else ((float *)A)[i] = (float)rng_unif();
    }
    for (fp_idx i = 0; i < K * N; i++) {
        if (dt) ((double *)B)[i] = rng_unif(); else ((float *)B)[i] = (float)rng_unif();
    }
    memset(bias, 0, (size_t)N * es);
    const fp_idx lda = ta ? M : K, ldb = tb ? K : N;
    void *bz = use_bias ? bias : NULL;
    fp_set_num_threads(1);
    int inner = 1;
    double *g = malloc((size_t)samples * sizeof(double));
    for (int s = -1; s < samples; s++) {
        for (;;) {
            const double t0 = cpu_s();
            for (int r = 0; r < inner; r++) {
                if (dt) fp_dgemm(ta, tb, M, N, K, 1.0, A, lda, B, ldb, 0.0, C, N, bz);
                else fp_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N, bz);
            }
            const double t = cpu_s() - t0;
            if (s < 0 && t < 0.002 && inner < (1 << 24)) { inner *= 2; continue; }
            if (s >= 0) g[s] = t / inner * 1e6;
            break;
        }
    }
    qsort(g, (size_t)samples, sizeof g[0], cmp_dbl);
    const double med = g[samples / 2];
    free(A); free(B); free(C); free(bias); free(g);
    return med;
}

/* the same for C = A*B + bias, no transposes (the few-row products) */
static double bench_cpu_us(int dt, fp_idx M, fp_idx N, fp_idx K, int samples)
{
    return bench_cpu_us_t(dt, 0, 0, M, N, K, 1, samples);
}

/* The products of an MLP training step that go through the no-packing path (fastprop's
 * nn/fp_net.inc: forward X W + b, backward X^T dZ and dZ W^T): the digits nets 64-100-10 at
 * batch 200 (float64 and float32) and 64-64-10 at batch 32 (float64), and the small products
 * of 784-256-128-10 at batch 128 (float32). One thread, median microseconds of thread CPU
 * time, and the sum per net. */
static void run_mlp(int argc, char **argv)
{
    const int samples = argc > 2 ? atoi(argv[2]) : 31;
    static const struct { int dt, ta, tb; fp_idx M, N, K; int bias; const char *net; } sh[] = {
        { 1, 0, 0, 200, 100, 64, 1, "f64 64-100-10 b200" }, { 1, 0, 0, 200, 10, 100, 1, "" },
        { 1, 1, 0, 100, 10, 200, 0, "" }, { 1, 0, 1, 200, 100, 10, 0, "" },
        { 1, 1, 0, 64, 100, 200, 0, "" },
        { 0, 0, 0, 200, 100, 64, 1, "f32 64-100-10 b200" }, { 0, 0, 0, 200, 10, 100, 1, "" },
        { 0, 1, 0, 100, 10, 200, 0, "" }, { 0, 0, 1, 200, 100, 10, 0, "" },
        { 0, 1, 0, 64, 100, 200, 0, "" },
        { 1, 0, 0, 32, 64, 64, 1, "f64 64-64-10 b32" }, { 1, 0, 0, 32, 10, 64, 1, "" },
        { 1, 1, 0, 64, 10, 32, 0, "" }, { 1, 0, 1, 32, 64, 10, 0, "" },
        { 1, 1, 0, 64, 64, 32, 0, "" },
        { 0, 0, 0, 128, 10, 128, 1, "f32 784-256-128-10 b128 (sup part)" },
        { 0, 1, 0, 128, 10, 128, 0, "" }, { 0, 0, 1, 128, 128, 10, 0, "" } };
    printf("isa=%s, one thread, median us of %d (thread CPU time)\n", fp_gemm_isa(), samples);
    double sum = 0;
    for (int s = 0; s < (int)(sizeof sh / sizeof sh[0]); s++) {
        if (sh[s].net[0]) {
            if (s > 0) printf("  sum %.2f us\n", sum);
            printf("%s\n", sh[s].net);
            sum = 0;
        }
        const double us = bench_cpu_us_t(sh[s].dt, sh[s].ta, sh[s].tb, sh[s].M, sh[s].N, sh[s].K,
                                         sh[s].bias, samples);
        sum += us;
        printf("  %s ta=%d tb=%d %4ld %4ld %4ld  %8.2f us  %6.2f GFLOP/s\n", sh[s].dt ? "f64" : "f32",
               sh[s].ta, sh[s].tb, (long)sh[s].M, (long)sh[s].N, (long)sh[s].K, us,
               2.0 * (double)sh[s].M * (double)sh[s].N * (double)sh[s].K / us * 1e-3);
        fflush(stdout);
    }
    printf("  sum %.2f us\n", sum);
}

/* The few-row products: M = 1..16 rows times K x N (the forward pass of one to a few samples),
 * one thread, median microseconds and GFLOP/s. */
static void run_few(int argc, char **argv)
{
    const int dt = argc > 2 && !strcmp(argv[2], "f64");
    const fp_idx K = argc > 3 ? atol(argv[3]) : 784, N = argc > 4 ? atol(argv[4]) : 256;
    const int mmax = argc > 5 ? atoi(argv[5]) : 16, samples = argc > 6 ? atoi(argv[6]) : 31;
    printf("isa=%s %s, M x %ld x %ld (M N K = M %ld %ld), one thread, median of %d (thread "
           "CPU time)\n", fp_gemm_isa(), dt ? "f64" : "f32", (long)K, (long)N, (long)N, (long)K,
           samples);
    for (fp_idx M = 1; M <= mmax; M++) {
        const double us = bench_cpu_us(dt, M, N, K, samples);
        printf("M=%2ld  %9.2f us  %7.2f GFLOP/s\n", (long)M, us,
               2.0 * (double)M * (double)N * (double)K / us * 1e-3);
        fflush(stdout);
    }
}

static void run_bench(int argc, char **argv)
{
    static const fp_idx def[] = { 64, 128, 256, 512, 1024, 2048 };
    fp_idx ns[32];
    int nn = 0;
    for (int i = 2; i < argc && nn < 32; i++) ns[nn++] = atol(argv[i]);
    if (nn == 0) { memcpy(ns, def, sizeof def); nn = (int)(sizeof def / sizeof def[0]); }
    printf("isa=%s  GFLOP/s (median of 7), C = A*B, square n, no transposes\n", fp_gemm_isa());
    printf("%6s %10s %10s %10s %10s\n", "n", "f32 1thr", "f32 2thr", "f64 1thr", "f64 2thr");
    for (int i = 0; i < nn; i++) {
        const fp_idx n = ns[i];
        double s1 = bench_one(0, 0, 0, n, n, n, 1), s2 = bench_one(0, 0, 0, n, n, n, 2);
        double d1 = bench_one(1, 0, 0, n, n, n, 1), d2 = bench_one(1, 0, 0, n, n, n, 2);
        printf("%6ld %10.1f %10.1f %10.1f %10.1f\n", (long)n, s1, s2, d1, d2);
        fflush(stdout);
    }
}

/* MLP-like shapes: batch x in -> out, forward (tb=1: X W^T), and the two backward products */
static void run_shapes(int argc, char **argv)
{
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    static const fp_idx sh[][3] = {
        { 8, 8, 8 }, { 16, 16, 16 }, { 32, 32, 32 }, { 48, 48, 48 }, { 64, 64, 64 },
        { 80, 80, 80 }, { 96, 96, 96 }, { 128, 128, 128 }, { 160, 160, 160 },
        { 32, 64, 32 }, { 64, 128, 64 }, { 128, 64, 32 }, { 32, 10, 128 }, { 256, 10, 64 },
        { 4, 512, 512 }, { 512, 4, 512 }, { 64, 256, 784 }, { 256, 256, 64 }, { 128, 512, 256 } };
    printf("isa=%s threads=%d  GFLOP/s (median), M N K: f32 nn / nt / tn, f64 nn / nt / tn\n",
           fp_gemm_isa(), threads);
    for (int s = 0; s < (int)(sizeof sh / sizeof sh[0]); s++) {
        const fp_idx M = sh[s][0], N = sh[s][1], K = sh[s][2];
        printf("%5ld %5ld %5ld :", (long)M, (long)N, (long)K);
        for (int dt = 0; dt < 2; dt++)
            printf("  %6.1f %6.1f %6.1f", bench_one(dt, 0, 0, M, N, K, threads),
                   bench_one(dt, 0, 1, M, N, K, threads), bench_one(dt, 1, 0, M, N, K, threads));
        printf("\n");
        fflush(stdout);
    }
}

static int run_sub(const char *self, const char *isa, const char *sup, const char *par)
{
    if (isa) setenv("FASTPROP_GEMM_ISA", isa, 1); else unsetenv("FASTPROP_GEMM_ISA");
    if (sup) setenv("FASTPROP_GEMM_SUP_MNK", sup, 1); else unsetenv("FASTPROP_GEMM_SUP_MNK");
    if (par) setenv("FASTPROP_GEMM_PAR_MNK", par, 1); else unsetenv("FASTPROP_GEMM_PAR_MNK");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' check", self);
    fflush(stdout);
    return system(cmd) == 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "all";
    if (!strcmp(mode, "check")) return run_checks() ? 0 : 1;
    if (!strcmp(mode, "bench")) { run_bench(argc, argv); return 0; }
    if (!strcmp(mode, "shapes")) { run_shapes(argc, argv); return 0; }
    if (!strcmp(mode, "few")) { run_few(argc, argv); return 0; }
    if (!strcmp(mode, "mlp")) { run_mlp(argc, argv); return 0; }
    if (!strcmp(mode, "one") && argc == 9) {   /* one f32|f64 ta tb M N K threads */
        const int dt = !strcmp(argv[2], "f64");
        printf("%.2f\n", bench_one(dt, atoi(argv[3]), atoi(argv[4]), atol(argv[5]), atol(argv[6]),
                                   atol(argv[7]), atoi(argv[8])));
        return 0;
    }
    if (!strcmp(mode, "all")) {
        int ok = 1;
        ok &= run_sub(argv[0], NULL, NULL, NULL);
        ok &= run_sub(argv[0], NULL, "0", "0");
        ok &= run_sub(argv[0], NULL, "1", NULL);
        ok &= run_sub(argv[0], "avx2", NULL, NULL);
        ok &= run_sub(argv[0], "avx2", "0", "0");
        ok &= run_sub(argv[0], "avx2", "1", NULL);
        ok &= run_sub(argv[0], "generic", NULL, NULL);
        ok &= run_sub(argv[0], "generic", "0", "0");
        ok &= run_sub(argv[0], "generic", "1", NULL);
        printf("%s\n", ok ? "ALL CHECKS PASSED" : "SOME CHECKS FAILED");
        return ok ? 0 : 1;
    }
    fprintf(stderr, "usage: %s [all|check|bench [n...]|shapes [threads]]\n", argv[0]);
    return 2;
}
