/* fp_optim.c: SGD and Adam updates, instantiated for double and float. */
#include <math.h>
#include <string.h>
#include "fp_kernels.h"
#include "fp_parallel.h"

#define FP_DOUBLE
#include "fp_type.h"
#include "fp_optim.inc"
#undef FP_DOUBLE
#include "fp_type.h"
#include "fp_optim.inc"
