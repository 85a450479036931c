/* fp_loss.c: losses and their output-layer gradients, instantiated for double and float. */
#include <math.h>
#include "fp_kernels.h"

#define FP_DOUBLE
#include "fp_type.h"
#include "fp_loss.inc"
#undef FP_DOUBLE
#include "fp_type.h"
#include "fp_loss.inc"
