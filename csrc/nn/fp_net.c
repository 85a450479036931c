/* fp_net.c: activations, losses, optimizer updates and whole-network passes, instantiated for
 * double and float. One translation unit on purpose: the training loop calls the activation,
 * loss and optimizer rules directly, so that the compiler can inline them into the small-layer
 * paths, where a call and a dispatch cost as much as the arithmetic. */
#include <float.h>
#include <math.h>
#include <string.h>
#include "fp_exp.h"
#include "fp_kernels.h"
#include "fp_parallel.h"
#if FP_HAVE_AVX512_COPY
#include <immintrin.h>
#endif

/* Networks of at most this many layers can take the one-sample path of fp_tiny.inc. */
#define FP_TINY_LAYERS 8

/* Whether a layer of n rows is small: it skips the GEMM (fp_net.inc), and a network of only
 * small layers runs the baseline code rather than the AVX2 copies. */
static inline int fp_small_layer(int64_t n, int64_t n_in, int64_t n_out)
{
    return n * n_in * n_out <= FP_SMALL_LAYER;
}

int64_t fp_net_n_params(const fp_net *net)
{
    int64_t N = 0;
    for (int l = 0; l < net->n_layers; l++) N += fp_net_layer_params(net, l);
    return N;
}

/* The workspace layout, in elements from its start, for up to `cap` rows: per layer Z_l then
 * A_l (cap x sizes[l+1] each; A_l is Z_l for identity), then two delta buffers of
 * cap x max(sizes[1..L]) used in turn by the backward pass, then for each layer with dropout
 * its dropped activations and their multipliers (cap x sizes[l+1] each; none without dropout,
 * so such networks keep their layout). Returns the total size. The one place these rules live:
 * fp_net_workspace_size and each pass's layout read them here. */
int64_t fp_net_layout(const fp_net *net, int64_t cap, int64_t *z, int64_t *a, int64_t d[2],
                      int64_t *drop)
{
    int64_t at = 0, widest = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const int64_t m = net->sizes[l + 1];
        z[l] = at;
        at += cap * m;
        if (net->acts[l] == FP_IDENTITY) a[l] = z[l];
        else { a[l] = at; at += cap * m; }
        widest = m > widest ? m : widest;
    }
    d[0] = at;
    d[1] = at + cap * widest;
    at += 2 * cap * widest;
    for (int l = 0; l < net->n_layers; l++) {
        drop[l] = -1;
        if (fp_net_dropout(net, l) > 0) {
            drop[l] = at;
            at += 2 * cap * net->sizes[l + 1];
        }
    }
    return at;
}

int64_t fp_net_workspace_size(const fp_net *net, int64_t cap)
{
    int64_t z[FP_MAX_LAYERS], a[FP_MAX_LAYERS], d[2], drop[FP_MAX_LAYERS];
    return fp_net_layout(net, cap, z, a, d, drop);
}

#define FP_DOUBLE
#include "fp_type.h"
#include "fp_activation.inc"
#include "fp_loss.inc"
#include "fp_optim.inc"
#include "fp_tiny.inc"
#include "fp_net.inc"
#undef FP_DOUBLE
#include "fp_type.h"
#include "fp_activation.inc"
#include "fp_loss.inc"
#include "fp_optim.inc"
#include "fp_tiny.inc"
#include "fp_net.inc"
