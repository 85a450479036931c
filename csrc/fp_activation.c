/* fp_activation.c: activations and their derivatives, instantiated for double and float. */
#include <math.h>
#include <string.h>
#include "fp_exp.h"
#include "fp_kernels.h"
#include "fp_parallel.h"

#define FP_DOUBLE
#include "fp_type.h"
#include "fp_activation.inc"
#undef FP_DOUBLE
#include "fp_type.h"
#include "fp_activation.inc"
