/* fp_threads.c: how many threads fastprop's kernels use. One place, so that the GEMM and the
 * elementwise kernels agree; without OpenMP everything runs on one thread. */
#include "fp_gemm.h"
#include "fp_parallel.h"
#ifdef _OPENMP
#include <omp.h>
#endif

static int fp_threads = 0;   /* 0: not set yet, use OpenMP's default (the number of cores) */

void fp_set_num_threads(int n)
{
    fp_threads = n < 1 ? 1 : n;
}

int fp_get_num_threads(void)
{
#ifdef _OPENMP
    if (fp_threads == 0) fp_set_num_threads(omp_get_num_procs());
    return fp_threads;
#else
    return 1;
#endif
}

int fp_have_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

void fp_parallel_run(int64_t count, fp_range_fn fn, void *ctx)
{
    const int nt = fp_get_num_threads();
    if (count <= 0) return;
    if (nt <= 1) {
        fn(ctx, 0, count);
        return;
    }
#ifdef _OPENMP
    #pragma omp parallel num_threads(nt)
    {
        const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
        const int64_t lo = count * t / T, hi = count * (t + 1) / T;
        if (hi > lo) fn(ctx, lo, hi);
    }
#else
    fn(ctx, 0, count);
#endif
}
