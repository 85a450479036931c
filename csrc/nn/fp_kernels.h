/* fp_kernels.h: the C contract of fastprop's network kernels (floor 1): activations, losses,
 * optimizer updates, and whole-network forward / backprop / finite differences / training.
 * Plain C, no Python headers. Every array is row-major and contiguous; rows are samples.
 * Nothing here checks shapes: floor 2 (the Cython bindings) does that before calling. */
#ifndef FP_KERNELS_H
#define FP_KERNELS_H

#include <stdint.h>
#include "fp_gemm.h"
#include "fp_rules.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FP_LEAKY_SLOPE 0.01
#define FP_MAX_LAYERS 128   /* floor 2 refuses deeper networks */
/* Layers with n * n_in * n_out at most this many multiply-adds bypass the GEMM (fp_net.inc). */
#define FP_SMALL_LAYER 2048

/* A network's shape: layer l maps sizes[l] inputs to sizes[l+1] outputs with activation acts[l].
 * Its parameters are one flat buffer [W1, b1, W2, b2, ...], W_l of shape (sizes[l], sizes[l+1]). */
typedef struct {
    int n_layers;
    const int64_t *sizes;   /* n_layers + 1 */
    const int32_t *acts;    /* n_layers */
    int loss;
} fp_net;

/* Number of parameters N of the network. */
int64_t fp_net_n_params(const fp_net *net);
/* Elements of workspace that fp_?_net_* need for up to `cap` rows per call. */
int64_t fp_net_workspace_size(const fp_net *net, int64_t cap);
/* Offsets (elements) of each layer's Z and A and of the two delta buffers in that workspace;
 * returns its size. */
int64_t fp_net_layout(const fp_net *net, int64_t cap, int64_t *z, int64_t *a, int64_t d[2]);

/* Optimizer hyper-parameters, torch.optim's names and semantics (each kind reads its own;
 * fp_optim.inc). `state` holds fp_optimizer_n_state(kind) * N values, buffer k at k * N
 * (SGD: momentum; Adam, AdamW: exp_avg, exp_avg_sq; RMSprop: square_avg, momentum_buffer,
 * grad_avg; Adagrad: sum); *step counts the updates done (SGD uses step == 0 to initialise
 * its momentum buffer, as torch does). */
typedef struct {
    int kind;
    double lr, momentum, weight_decay, beta1, beta2, eps, alpha, lr_decay;
    int nesterov, centered;
    int64_t *step;
} fp_optim;

#define FP_DOUBLE
#include "fp_kernels_decl.h"
#undef FP_DOUBLE
#include "fp_kernels_decl.h"

#ifdef __cplusplus
}
#endif
#endif
