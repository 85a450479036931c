/* fp_kernels_decl.h: declarations of fp_kernels.h for one element type (see fp_type.h).
 * Included twice by fp_kernels.h; not meant to be included anywhere else. */
#include "fp_type.h"

/* A = f(Z) for an n x m block. A may be Z (in place). Softmax is row-wise, max-subtracted. */
void FPN(activation_forward)(int act, int64_t n, int64_t m, const FP_T *Z, FP_T *A);

/* dZ = dA * f'(Z), where f' may be computed from Z or from A = f(Z) (both are given).
 * Softmax: the Jacobian-vector product a * (dA - sum(dA * a)) per row. dZ may be dA. */
void FPN(activation_backward)(int act, int64_t n, int64_t m, const FP_T *Z, const FP_T *A,
                              const FP_T *dA, FP_T *dZ);

/* Mean loss of an n x m output block (PyTorch's mean reduction), from the output layer's
 * pre-activation Z and activation A = f(Z). Y holds targets of the same shape (cross-entropy:
 * one-hot or probability rows). Sigmoid + BCE and softmax + CE are computed from Z, stably.
 * Accumulated in double for both types. */
double FPN(loss_value)(int loss, int act, int64_t n, int64_t m, const FP_T *Z, const FP_T *A,
                       const FP_T *Y);

/* dZ of the output layer for the mean loss above: the fused p - y for sigmoid + BCE and
 * softmax + CE, otherwise dL/dA times f'(Z). */
void FPN(loss_gradient)(int loss, int act, int64_t n, int64_t m, const FP_T *Z, const FP_T *A,
                        const FP_T *Y, FP_T *dZ);

/* One optimizer update of params (length N) in place from grad; increments *opt->step.
 * Returns 1, leaving params and state unchanged, when any new parameter or state value would
 * not be finite (a NaN/inf gradient or an overflow); 0 after a normal update. */
int FPN(optim_step)(const fp_optim *opt, int64_t N, FP_T *params, const FP_T *grad, FP_T *state);

/* 1 when every x[0..n) is finite (no NaN, no infinity), else 0. */
int FPN(all_finite)(int64_t n, const FP_T *x);

/* Forward pass of n rows of X (n x sizes[0]) through the network; returns the output
 * activations (n x sizes[L], inside ws). ws holds fp_net_workspace_size(net, cap) elements,
 * n <= cap. */
const FP_T *FPN(net_forward)(const fp_net *net, const FP_T *params, int64_t n, const FP_T *X,
                             FP_T *ws, int64_t cap);

/* Mean loss of the network on (X, Y): one forward pass. Y is n x sizes[L]. */
double FPN(net_loss)(const fp_net *net, const FP_T *params, int64_t n, const FP_T *X,
                     const FP_T *Y, FP_T *ws, int64_t cap);

/* Loss and its gradient (same layout as params) by backpropagation: one forward and one
 * backward pass. */
double FPN(net_backprop)(const fp_net *net, const FP_T *params, int64_t n, const FP_T *X,
                         const FP_T *Y, FP_T *ws, int64_t cap, FP_T *grad);

/* Finite-difference gradient of the loss for the k parameters idx[0..k-1] (out[j] is the
 * derivative by params[idx[j]]). scheme 0: forward, (L(p + h e_i) - L(p)) / h, 1 + k passes;
 * scheme 1: central, (L(p + h) - L(p - h)) / 2h, 2k passes. h = eps * max(1, |p_i|), rounded
 * to the step actually representable. Each parameter is restored bit-exactly. */
void FPN(net_numerical_gradient)(const fp_net *net, FP_T *params, int64_t n, const FP_T *X,
                                 const FP_T *Y, FP_T *ws, int64_t cap, int scheme, double eps,
                                 const int64_t *idx, int64_t k, FP_T *out);

/* Mini-batch training for n_epochs epochs over (X, Y) (n rows). Batches of `batch` rows in
 * order perm (refilled and shuffled from rng each epoch when shuffle != 0; perm holds n
 * entries), the last partial batch included. Each step: backprop into grad, then the
 * optimizer update, unless the loss or gradient is not finite: then training stops before
 * the update, params and optimizer state keep their last finite values, and the return value
 * is -(1 + number of epochs completed). Otherwise returns n_epochs.
 * epoch_loss[e] = mean per-sample loss seen in epoch e. When n_val > 0, val_loss[e] is the
 * loss on (Xv, Yv) after epoch e. ws is for `cap` >= batch rows; gather holds
 * batch * (sizes[0] + sizes[L]) elements. */
int64_t FPN(net_train)(const fp_net *net, FP_T *params, int64_t n, const FP_T *X, const FP_T *Y,
                       int64_t batch, int64_t n_epochs, int shuffle, uint64_t rng[4],
                       int64_t *perm, const fp_optim *opt, FP_T *state, FP_T *ws, int64_t cap,
                       FP_T *grad, FP_T *gather, double *epoch_loss,
                       int64_t n_val, const FP_T *Xv, const FP_T *Yv, double *val_loss);
