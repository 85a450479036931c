/* fp_runtime.h: the process-wide services every kernel shares (floor 1, runtime layer): the
 * instruction set chosen at run time, the thread count, and per-thread buffers. One copy in
 * the process: fastprop builds a single extension module, so these exist once. Every
 * first-use initialisation is thread-safe (pthread_once or atomics). Plain C. */
#ifndef FP_RUNTIME_H
#define FP_RUNTIME_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Instruction-set paths, ordered: a CPU with a path has every path below it. */
enum { FP_ISA_GENERIC = 1, FP_ISA_AVX2 = 2, FP_ISA_AVX512 = 3 };

/* The path chosen once, at first use, from CPUID (__builtin_cpu_supports), capped by
 * FASTPROP_GEMM_ISA=avx2 or =generic (tests compare the paths). */
int fp_isa(void);
/* 1 when the AVX2 (and FMA) path or a better one runs; other loops pick their AVX2 copies by it. */
int fp_isa_avx2(void);
/* 1 when the AVX-512 path runs (the CPU has AVX-512F and nothing caps it). */
int fp_isa_avx512(void);
/* Name of the chosen path: "avx512f", "avx2+fma" or "generic". */
const char *fp_gemm_isa(void);

/* Tuning knobs read from the environment once, with the path (csrc/tests/gemm_check.c sets
 * them): FASTPROP_GEMM_SUP_MNK and FASTPROP_GEMM_PAR_MNK. A negative value means unset. */
double fp_env_gemm_sup_mnk(void);
double fp_env_gemm_par_mnk(void);

/* Threads used by the kernels (OpenMP; 1 when built without it). */
void fp_set_num_threads(int n);
int fp_get_num_threads(void);
int fp_have_openmp(void);

/* Per-thread buffers, one per slot, allocated at a thread's first request at the size asked
 * (callers always ask the same size for a slot), 64-byte aligned, freed when the thread exits;
 * NULL when the memory cannot be had. The GEMM's packing buffers take the first slots. */
enum { FP_SLOT_GEMM = 0, FP_SLOT_GEMM_COUNT = 6, FP_SLOT_SCRATCH = FP_SLOT_GEMM_COUNT,
       FP_SLOTS = FP_SLOT_SCRATCH + 1 };
void *fp_thread_buffer(int slot, size_t bytes);

#ifdef __cplusplus
}
#endif
#endif
