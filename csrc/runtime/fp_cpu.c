/* fp_cpu.c: which instruction-set path runs, decided once per process. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "fp_runtime.h"

static pthread_once_t fp_cpu_once = PTHREAD_ONCE_INIT;
static int fp_isa_chosen = FP_ISA_GENERIC;
static double fp_sup_mnk = -1, fp_par_mnk = -1;

static void fp_cpu_detect(void)
{
    const char *e = getenv("FASTPROP_GEMM_SUP_MNK");
    if (e && *e) fp_sup_mnk = strtod(e, NULL);
    e = getenv("FASTPROP_GEMM_PAR_MNK");
    if (e && *e) fp_par_mnk = strtod(e, NULL);
    e = getenv("FASTPROP_GEMM_ISA");
    if (e && strcmp(e, "generic") == 0) return;
    const int cap_avx2 = e && strcmp(e, "avx2") == 0;
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    /* __builtin_cpu_supports("avx512f") is false when the OS does not save the zmm state */
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        fp_isa_chosen = __builtin_cpu_supports("avx512f") && !cap_avx2 ? FP_ISA_AVX512
                                                                        : FP_ISA_AVX2;
#endif
    (void)cap_avx2;
}

int fp_isa(void)
{
    pthread_once(&fp_cpu_once, fp_cpu_detect);
    return fp_isa_chosen;
}

int fp_isa_avx2(void) { return fp_isa() >= FP_ISA_AVX2; }
int fp_isa_avx512(void) { return fp_isa() == FP_ISA_AVX512; }

const char *fp_gemm_isa(void)
{
    switch (fp_isa()) {
    case FP_ISA_AVX512: return "avx512f";
    case FP_ISA_AVX2: return "avx2+fma";
    default: return "generic";
    }
}

double fp_env_gemm_sup_mnk(void)
{
    pthread_once(&fp_cpu_once, fp_cpu_detect);
    return fp_sup_mnk;
}

double fp_env_gemm_par_mnk(void)
{
    pthread_once(&fp_cpu_once, fp_cpu_detect);
    return fp_par_mnk;
}
