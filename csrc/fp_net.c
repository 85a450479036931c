/* fp_net.c: whole-network passes and the training loop, instantiated for double and float. */
#include <math.h>
#include "fp_kernels.h"
#include "fp_parallel.h"

int64_t fp_net_n_params(const fp_net *net)
{
    int64_t N = 0;
    for (int l = 0; l < net->n_layers; l++) N += (net->sizes[l] + 1) * net->sizes[l + 1];
    return N;
}

int64_t fp_net_workspace_size(const fp_net *net, int64_t cap)
{
    int64_t total = 0, widest = 0;
    for (int l = 0; l < net->n_layers; l++) {
        int64_t m = net->sizes[l + 1];
        total += cap * m * (net->acts[l] == FP_IDENTITY ? 1 : 2);
        widest = m > widest ? m : widest;
    }
    return total + 2 * cap * widest;
}

#define FP_DOUBLE
#include "fp_type.h"
#include "fp_net.inc"
#undef FP_DOUBLE
#include "fp_type.h"
#include "fp_net.inc"
