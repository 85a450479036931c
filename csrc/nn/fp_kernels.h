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

/* A network's shape: layer l maps sizes[l] inputs to sizes[l+1] outputs with activation acts[l],
 * with a bias when bias[l] != 0 (bias NULL: every layer has one). Its parameters are one flat
 * buffer [W1, b1, W2, b2, ...], W_l of shape (sizes[l], sizes[l+1]); a layer without a bias
 * has no b_l there (its block is W_l alone), and no db_l in a gradient. */
typedef struct {
    int n_layers;
    const int64_t *sizes;   /* n_layers + 1 */
    const int32_t *acts;    /* n_layers */
    int loss;
    const uint8_t *bias;    /* n_layers flags, or NULL for all */
    const double *dropout;  /* n_layers rates in [0, 1) (the last 0), or NULL for none */
} fp_net;

/* The dropout rate after layer l's activation: inverted dropout during training (net_train)
 * only, the masks drawn from its rng after each epoch's shuffle (fp_net.inc); every other
 * pass ignores it. */
static inline double fp_net_dropout(const fp_net *net, int l)
{
    return net->dropout == NULL ? 0.0 : net->dropout[l];
}

/* Whether layer l has a bias. */
static inline int fp_net_has_bias(const fp_net *net, int l)
{
    return net->bias == NULL || net->bias[l] != 0;
}

/* Parameters of layer l: its W, then its b when it has one. */
static inline int64_t fp_net_layer_params(const fp_net *net, int l)
{
    return (net->sizes[l] + (fp_net_has_bias(net, l) ? 1 : 0)) * net->sizes[l + 1];
}

/* Number of parameters N of the network. */
int64_t fp_net_n_params(const fp_net *net);
/* Elements of workspace that fp_?_net_* need for up to `cap` rows per call. */
int64_t fp_net_workspace_size(const fp_net *net, int64_t cap);
/* Offsets (elements) of each layer's Z and A, of the two delta buffers, and (drop[l], -1 for
 * none) of a layer with dropout's dropped activations, its multipliers right after, in that
 * workspace; returns its size. */
int64_t fp_net_layout(const fp_net *net, int64_t cap, int64_t *z, int64_t *a, int64_t d[2],
                      int64_t *drop);

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

/* The kernels, for double (fp_d_*) and float (fp_s_*). Each is written once, in a template
 * file of this folder instantiated per type by fp_net.c (FPN(name) -> fp_d_name, fp_s_name;
 * fp_type.h); the names are spelled out here so that grep finds them. */

/* A = f(Z) for an n x m block. A may be Z (in place). Softmax is row-wise, max-subtracted. */
void fp_d_activation_forward(int act, int64_t n, int64_t m, const double *Z, double *A);
void fp_s_activation_forward(int act, int64_t n, int64_t m, const float *Z, float *A);

/* dZ = dA * f'(Z), where f' may be computed from Z or from A = f(Z) (both are given).
 * Softmax: the Jacobian-vector product a * (dA - sum(dA * a)) per row. dZ may be dA. */
void fp_d_activation_backward(int act, int64_t n, int64_t m, const double *Z, const double *A,
                              const double *dA, double *dZ);
void fp_s_activation_backward(int act, int64_t n, int64_t m, const float *Z, const float *A,
                              const float *dA, float *dZ);

/* Mean loss of an n x m output block (PyTorch's mean reduction), from the output layer's
 * pre-activation Z and activation A = f(Z). Y holds targets of the same shape (cross-entropy:
 * one-hot or probability rows). Sigmoid + BCE and softmax + CE are computed from Z, stably.
 * Accumulated in double for both types. */
double fp_d_loss_value(int loss, int act, int64_t n, int64_t m, const double *Z, const double *A,
                       const double *Y);
double fp_s_loss_value(int loss, int act, int64_t n, int64_t m, const float *Z, const float *A,
                       const float *Y);

/* dZ of the output layer for the mean loss above: the fused p - y for sigmoid + BCE and
 * softmax + CE, otherwise dL/dA times f'(Z). */
void fp_d_loss_gradient(int loss, int act, int64_t n, int64_t m, const double *Z, const double *A,
                        const double *Y, double *dZ);
void fp_s_loss_gradient(int loss, int act, int64_t n, int64_t m, const float *Z, const float *A,
                        const float *Y, float *dZ);

/* One optimizer update of params (length N) in place from grad; increments *opt->step.
 * Returns 1, leaving params and state unchanged, when any new parameter or state value would
 * not be finite (a NaN/inf gradient or an overflow); 0 after a normal update. */
int fp_d_optim_step(const fp_optim *opt, int64_t N, double *params, const double *grad,
                    double *state);
int fp_s_optim_step(const fp_optim *opt, int64_t N, float *params, const float *grad, float *state);

/* 1 when every x[0..n) is finite (no NaN, no infinity), else 0. */
int fp_d_all_finite(int64_t n, const double *x);
int fp_s_all_finite(int64_t n, const float *x);

/* Forward pass of n rows of X (n x sizes[0]) through the network; returns the output
 * activations (n x sizes[L], inside ws). ws holds fp_net_workspace_size(net, cap) elements,
 * n <= cap. */
const double *fp_d_net_forward(const fp_net *net, const double *params, int64_t n, const double *X,
                               double *ws, int64_t cap);
const float *fp_s_net_forward(const fp_net *net, const float *params, int64_t n, const float *X,
                              float *ws, int64_t cap);

/* Mean loss of the network on (X, Y): one forward pass. Y is n x sizes[L]. */
double fp_d_net_loss(const fp_net *net, const double *params, int64_t n, const double *X,
                     const double *Y, double *ws, int64_t cap);
double fp_s_net_loss(const fp_net *net, const float *params, int64_t n, const float *X,
                     const float *Y, float *ws, int64_t cap);

/* Loss and its gradient (same layout as params) by backpropagation: one forward and one
 * backward pass. */
double fp_d_net_backprop(const fp_net *net, const double *params, int64_t n, const double *X,
                         const double *Y, double *ws, int64_t cap, double *grad);
double fp_s_net_backprop(const fp_net *net, const float *params, int64_t n, const float *X,
                         const float *Y, float *ws, int64_t cap, float *grad);

/* Finite-difference gradient of the loss for the k parameters idx[0..k-1] (out[j] is the
 * derivative by params[idx[j]]). scheme 0: forward, (L(p + h e_i) - L(p)) / h, 1 + k passes;
 * scheme 1: central, (L(p + h) - L(p - h)) / 2h, 2k passes. h = eps * max(1, |p_i|), rounded
 * to the step actually representable. Each parameter is restored bit-exactly. */
void fp_d_net_numerical_gradient(const fp_net *net, double *params, int64_t n, const double *X,
                                 const double *Y, double *ws, int64_t cap, int scheme, double eps,
                                 const int64_t *idx, int64_t k, double *out);
void fp_s_net_numerical_gradient(const fp_net *net, float *params, int64_t n, const float *X,
                                 const float *Y, float *ws, int64_t cap, int scheme, double eps,
                                 const int64_t *idx, int64_t k, float *out);

/* What the training loop does beyond plain steps; a zeroed struct (or NULL) is the plain
 * loop. */
typedef struct {
    /* NULL: opt->lr throughout. Else the learning rate of each epoch of the call (lr[e]), or
     * with lr_per_step of each optimizer step of the call (lr[step], steps counted from 0). */
    const double *lr;
    int lr_per_step;
    /* > 0: each step's gradient scaled as torch.nn.utils.clip_grad_norm_(max_norm=clip_norm),
     * then (> 0) clamped to [-clip_value, clip_value] as clip_grad_value_. */
    double clip_norm, clip_value;
    /* NULL, or n weights (finite, >= 0): each batch's loss is the weighted mean of its samples'
     * losses (scikit-learn's MLP; a batch of zero total weight has loss and gradient 0);
     * weight_gather holds `batch` entries. */
    const double *sample_weight;
    double *weight_gather;
    /* Non-NULL: epoch_acc[e] = the accuracy of the outputs seen during epoch e (weighted
     * like the loss), and val_acc[e] on the validation data after it (fp_accuracy_count). */
    double *epoch_acc, *val_acc;
    /* > 0: scikit-learn MLP's alpha. Each step adds l2 * W / b_w to the gradient of every
     * weight (not the biases) and 0.5 * l2 * sum(W^2) / b_w to the batch's loss, b_w the
     * batch's total sample weight (its size without weights; nothing when it is 0). */
    double l2;
} fp_train_opts;

/* Mini-batch training for n_epochs epochs over (X, Y) (n rows). Batches of `batch` rows in
 * order perm (refilled and shuffled from rng each epoch when shuffle != 0; perm holds n
 * entries), the last partial batch included. Each step: backprop into grad, then the
 * optimizer update, unless the loss or gradient is not finite: then training stops before
 * the update, params and optimizer state keep their last finite values, and the return value
 * is -(1 + number of epochs completed). Otherwise returns n_epochs.
 * epoch_loss[e] = mean per-sample loss seen in epoch e. When n_val > 0, val_loss[e] is the
 * loss on (Xv, Yv) after epoch e. ws is for `cap` >= batch rows; gather holds
 * batch * (sizes[0] + sizes[L]) elements. */
int64_t fp_d_net_train(const fp_net *net, double *params, int64_t n, const double *X,
                       const double *Y,
                       int64_t batch, int64_t n_epochs, int shuffle, uint64_t rng[4],
                       int64_t *perm, const fp_optim *opt, double *state, double *ws, int64_t cap,
                       double *grad, double *gather, double *epoch_loss,
                       int64_t n_val, const double *Xv, const double *Yv, double *val_loss,
                       const fp_train_opts *tr);
int64_t fp_s_net_train(const fp_net *net, float *params, int64_t n, const float *X, const float *Y,
                       int64_t batch, int64_t n_epochs, int shuffle, uint64_t rng[4],
                       int64_t *perm, const fp_optim *opt, float *state, float *ws, int64_t cap,
                       float *grad, float *gather, double *epoch_loss,
                       int64_t n_val, const float *Xv, const float *Yv, double *val_loss,
                       const fp_train_opts *tr);

/* Mean loss of the network on (X, Y) weighted by w (n weights >= 0): sum_i w_i l_i / sum_i w_i,
 * l_i the loss of sample i (0 when the weights sum to 0). One forward pass. */
double fp_d_net_loss_weighted(const fp_net *net, const double *params, int64_t n,
                              const double *X, const double *Y, const double *w, double *ws,
                              int64_t cap);
double fp_s_net_loss_weighted(const fp_net *net, const float *params, int64_t n,
                              const float *X, const float *Y, const double *w, float *ws,
                              int64_t cap);

#ifdef __cplusplus
}
#endif
#endif
