/* fp_type.h: the element type of a template file, included once per type.
 * Define FP_DOUBLE before including for double; leave it undefined for float. Each kernel
 * file writes its body once (in a .inc) and instantiates it twice, so the float and double
 * paths cannot drift apart. No include guard on purpose: it is re-included per type. */
#undef FP_T
#undef FPN
#undef FPM_SQRT
#undef FPM_FABS
#undef FP_GEMM
#undef FP_GEMM_REF
#undef FPM_EXP_NONPOS
#undef FPM_EXPM1_NONPOS
#undef FPM_COPYSIGN
#undef FPM_ERF
#undef FPM_EXP
#undef FPM_LOG1P
#undef FP_UTYPE
#undef FP_EXP_MASK
#undef FP_EXP_ONE
#ifdef FP_DOUBLE
#define FP_T double
#define FPN(name) fp_d_##name
#define FPM_EXP_NONPOS fp_exp_nonpos_d   /* fp_exp.h: exp of x <= 0, vectorisable */
#define FPM_EXPM1_NONPOS fp_expm1_nonpos_d
#define FPM_COPYSIGN copysign
#define FPM_ERF erf
#define FPM_EXP exp
#define FPM_LOG1P log1p
#define FPM_SQRT sqrt
#define FPM_FABS fabs
#define FP_GEMM fp_dgemm
#define FP_GEMM_REF fp_dgemm_ref
#define FP_UTYPE uint64_t  /* FP_T's bits; exponent field mask and its lowest bit: */
#define FP_EXP_MASK 0x7FF0000000000000ULL
#define FP_EXP_ONE 0x0010000000000000ULL
#else
#define FP_T float
#define FPN(name) fp_s_##name
#define FPM_EXP_NONPOS fp_exp_nonpos_s   /* fp_exp.h: vectorisable */
#define FPM_EXPM1_NONPOS fp_expm1_nonpos_s
#define FPM_COPYSIGN copysignf
#define FPM_ERF erff
#define FPM_EXP expf
#define FPM_LOG1P log1pf
#define FPM_SQRT sqrtf
#define FPM_FABS fabsf
#define FP_GEMM fp_sgemm
#define FP_GEMM_REF fp_sgemm_ref
#define FP_UTYPE uint32_t
#define FP_EXP_MASK 0x7F800000U
#define FP_EXP_ONE 0x00800000U
#endif
