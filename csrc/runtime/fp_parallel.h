/* fp_parallel.h: how elementwise work is split over threads. Small work stays on the calling
 * thread without touching OpenMP at all (even `omp parallel if(0)` costs a team set-up, which
 * is more than a tiny layer takes). Large work is cut into one contiguous range per thread,
 * and each range is computed exactly as the serial loop would: results never depend on the
 * thread count. */
#ifndef FP_PARALLEL_H
#define FP_PARALLEL_H

#include <stdint.h>
#include "fp_runtime.h"

/* Work (in elements touched) below which a loop stays on one thread. */
#define FP_PARALLEL_MIN 65536

/* Optimizer buffers of at most this many parameters are updated in one pass (fp_optim.inc),
 * their old values kept in the thread's scratch buffer: the parameters and up to 3 state
 * arrays (RMSprop), in L2. The scratch buffer also holds the padded copies of the per-sample
 * path (fp_tiny.inc: parameters, gradient and state, within the same size; that path runs
 * the optimizer's dry and write passes itself). */
#define FP_OPTIM_ONE_PASS 8192
#define FP_THREAD_SCRATCH ((size_t)4 * FP_OPTIM_ONE_PASS * sizeof(double))

/* This thread's scratch buffer of FP_THREAD_SCRATCH bytes (fp_runtime.h's per-thread
 * buffers); NULL when the memory cannot be had. */
static inline void *fp_thread_scratch(void)
{
    return fp_thread_buffer(FP_SLOT_SCRATCH, FP_THREAD_SCRATCH);
}

/* Inline every call in a function whose callees are in the same translation unit (the
 * exported ones too: the build passes -fno-semantic-interposition). */
#if defined(__GNUC__) && !defined(__clang__)
#define FP_FLATTEN __attribute__((flatten))
#else
#define FP_FLATTEN
#endif

/* Code compiled for AVX2 (per function, never for the whole build), called only when
 * fp_isa_avx2() says the CPU has it. Without FMA: the compiler keeps every operation and its
 * order (no contraction, no reassociation), so it gives the same bits as the baseline code,
 * with 4 doubles / 8 floats a vector instead of 2 / 4. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define FP_HAVE_AVX2_COPY 1
#define FP_TARGET_AVX2 __attribute__((target("avx2")))
#else
#define FP_HAVE_AVX2_COPY 0
#endif

/* Code written with AVX-512F intrinsics (fp_tiny.inc), called only when fp_isa_avx512() says
 * the CPU has it. */
#if defined(__GNUC__) && defined(__x86_64__)
#define FP_HAVE_AVX512_COPY 1
#define FP_TARGET_AVX512 __attribute__((target("avx512f")))
#else
#define FP_HAVE_AVX512_COPY 0
#endif

/* Calls fn(ctx, lo, hi) over ranges covering [0, count): once with [0, count) when work is
 * below FP_PARALLEL_MIN or one thread is set, otherwise once per thread in parallel. */
typedef void (*fp_range_fn)(void *ctx, int64_t lo, int64_t hi);
void fp_parallel_run(int64_t count, fp_range_fn fn, void *ctx);



/* FP_AVX2_TWIN(ret, twin, fn, (params), (args)) defines `twin`, the function fn compiled for
 * AVX2 (fn inlined into it, with everything it calls in the translation unit); _VOID for a
 * function returning nothing. Only where there is an AVX2 copy: callers test
 * FP_HAVE_AVX2_COPY before calling a twin. The one way a whole pass gets its AVX2 copy. */
#if FP_HAVE_AVX2_COPY
#define FP_AVX2_TWIN(ret, twin, fn, params, args)                                           \
    static FP_FLATTEN FP_TARGET_AVX2 ret twin params { return fn args; }
#define FP_AVX2_TWIN_VOID(twin, fn, params, args)                                           \
    static FP_FLATTEN FP_TARGET_AVX2 void twin params { fn args; }
#else
#define FP_AVX2_TWIN(ret, twin, fn, params, args)
#define FP_AVX2_TWIN_VOID(twin, fn, params, args)
#endif

/* FP_AVX2_RANGE(copy, fn): the AVX2 twin of a range function (fp_parallel_range takes both),
 * or a plain forwarder where there is no AVX2 copy. */
#if FP_HAVE_AVX2_COPY
#define FP_AVX2_RANGE(copy, fn)                                                              \
    FP_AVX2_TWIN_VOID(copy, fn, (void *ctx, int64_t lo, int64_t hi), (ctx, lo, hi))
#else
#define FP_AVX2_RANGE(copy, fn)                                                              \
    static void copy(void *ctx, int64_t lo, int64_t hi) { fn(ctx, lo, hi); }
#endif

/* Small work calls fn inline, so it runs as the caller was compiled (the baseline or the AVX2
 * training loop). Large work goes through fp_parallel_run by pointer, where nothing is inlined:
 * there the AVX2 copy `fn_avx2` runs when the CPU has AVX2, else the baseline copy would run
 * even inside the AVX2 training loop (figures: docs/tuning.md). */
static inline void fp_parallel_range(int64_t count, int64_t work, fp_range_fn fn,
                                     fp_range_fn fn_avx2, void *ctx)
{
    if (work < FP_PARALLEL_MIN || count < 2) fn(ctx, 0, count);   /* the common small case */
    else fp_parallel_run(count, fp_isa_avx2() ? fn_avx2 : fn, ctx);
}

#endif
