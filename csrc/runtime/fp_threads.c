/* fp_threads.c: how many threads fastprop's kernels use. One place, so that the GEMM and the
 * elementwise kernels agree; without OpenMP everything runs on one thread. */
#include "fp_parallel.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* 0: not set yet, the number of cores at first use. Atomic: any thread may read it while
 * another sets it, and the first readers may race to fill it in (with the same value). */
static int fp_threads = 0;

void fp_set_num_threads(int n)
{
    __atomic_store_n(&fp_threads, n < 1 ? 1 : n, __ATOMIC_RELAXED);
}

int fp_get_num_threads(void)
{
#ifdef _OPENMP
    int n = __atomic_load_n(&fp_threads, __ATOMIC_RELAXED);
    if (n == 0) {
        int expected = 0;
        n = omp_get_num_procs();
        if (!__atomic_compare_exchange_n(&fp_threads, &expected, n, 0, __ATOMIC_RELAXED,
                                         __ATOMIC_RELAXED))
            n = expected;   /* set meanwhile by another thread */
    }
    return n;
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
