# _csrc.pxd: the C declarations of csrc/ (floor 1) that the bindings call. Declarations only.
from libc.stdint cimport int64_t, int32_t, uint8_t, uint64_t

cdef extern from "fp_gemm.h" nogil:
    ctypedef Py_ssize_t fp_idx
    void fp_dgemm(int trans_a, int trans_b, fp_idx M, fp_idx N, fp_idx K, double alpha,
                  const double *A, fp_idx lda, const double *B, fp_idx ldb, double beta,
                  double *C, fp_idx ldc, const double *bias)
    void fp_sgemm(int trans_a, int trans_b, fp_idx M, fp_idx N, fp_idx K, float alpha,
                  const float *A, fp_idx lda, const float *B, fp_idx ldb, float beta,
                  float *C, fp_idx ldc, const float *bias)
    void fp_dgemm_ref(int trans_a, int trans_b, fp_idx M, fp_idx N, fp_idx K, double alpha,
                      const double *A, fp_idx lda, const double *B, fp_idx ldb, double beta,
                      double *C, fp_idx ldc, const double *bias)
    void fp_sgemm_ref(int trans_a, int trans_b, fp_idx M, fp_idx N, fp_idx K, float alpha,
                      const float *A, fp_idx lda, const float *B, fp_idx ldb, float beta,
                      float *C, fp_idx ldc, const float *bias)
    const char *fp_gemm_isa()
    void fp_set_num_threads(int n)
    int fp_get_num_threads()
    int fp_have_openmp()

cdef extern from "fp_rules.h" nogil:
    # The codes are the order of fp_rules.h's tables; only the counts are needed here (names
    # and facts come from the functions below, and Python's mappings from them).
    enum:
        FP_N_ACTIVATIONS, FP_N_LOSSES, FP_N_OPTIMIZERS, FP_MAX_OPTIM_STATE
    const char *fp_activation_name(int code)
    const char *fp_activation_init(int code)
    int fp_activation_output_only(int code)
    const char *fp_loss_name(int code)
    const char *fp_optimizer_name(int code)
    int fp_optimizer_n_state(int code)

cdef extern from "fp_kernels.h" nogil:
    enum:
        FP_MAX_LAYERS
        FP_SMALL_LAYER

    ctypedef struct fp_net:
        int n_layers
        const int64_t *sizes
        const int32_t *acts
        int loss
        const uint8_t *bias
        const double *dropout

    ctypedef struct fp_optim:
        int kind
        double lr, momentum, weight_decay, beta1, beta2, eps, alpha, lr_decay
        int nesterov, centered
        int64_t *step

    int64_t fp_net_n_params(const fp_net *net)
    int64_t fp_net_workspace_size(const fp_net *net, int64_t cap)

    void fp_d_activation_forward(int act, int64_t n, int64_t m, const double *Z, double *A)
    void fp_s_activation_forward(int act, int64_t n, int64_t m, const float *Z, float *A)
    void fp_d_activation_backward(int act, int64_t n, int64_t m, const double *Z,
                                  const double *A, const double *dA, double *dZ)
    void fp_s_activation_backward(int act, int64_t n, int64_t m, const float *Z,
                                  const float *A, const float *dA, float *dZ)
    double fp_d_loss_value(int loss, int act, int64_t n, int64_t m, const double *Z,
                           const double *A, const double *Y)
    double fp_s_loss_value(int loss, int act, int64_t n, int64_t m, const float *Z,
                           const float *A, const float *Y)
    void fp_d_loss_gradient(int loss, int act, int64_t n, int64_t m, const double *Z,
                            const double *A, const double *Y, double *dZ)
    void fp_s_loss_gradient(int loss, int act, int64_t n, int64_t m, const float *Z,
                            const float *A, const float *Y, float *dZ)
    int fp_d_all_finite(int64_t n, const double *x)
    int fp_s_all_finite(int64_t n, const float *x)
    int fp_d_optim_step(const fp_optim *opt, int64_t N, double *params, const double *grad,
                         double *state)
    int fp_s_optim_step(const fp_optim *opt, int64_t N, float *params, const float *grad,
                         float *state)

    const double *fp_d_net_forward(const fp_net *net, const double *params, int64_t n,
                                   const double *X, double *ws, int64_t cap)
    const float *fp_s_net_forward(const fp_net *net, const float *params, int64_t n,
                                  const float *X, float *ws, int64_t cap)
    double fp_d_net_loss(const fp_net *net, const double *params, int64_t n, const double *X,
                         const double *Y, double *ws, int64_t cap)
    double fp_s_net_loss(const fp_net *net, const float *params, int64_t n, const float *X,
                         const float *Y, float *ws, int64_t cap)
    double fp_d_net_backprop(const fp_net *net, const double *params, int64_t n,
                             const double *X, const double *Y, double *ws, int64_t cap,
                             double *grad)
    double fp_s_net_backprop(const fp_net *net, const float *params, int64_t n,
                             const float *X, const float *Y, float *ws, int64_t cap,
                             float *grad)
    void fp_d_net_numerical_gradient(const fp_net *net, double *params, int64_t n,
                                     const double *X, const double *Y, double *ws, int64_t cap,
                                     int scheme, double eps, const int64_t *idx, int64_t k,
                                     double *out)
    void fp_s_net_numerical_gradient(const fp_net *net, float *params, int64_t n,
                                     const float *X, const float *Y, float *ws, int64_t cap,
                                     int scheme, double eps, const int64_t *idx, int64_t k,
                                     float *out)
    ctypedef struct fp_train_opts:
        const double *lr
        int lr_per_step
        double clip_norm, clip_value
        const double *sample_weight
        double *weight_gather
        double *epoch_acc
        double *val_acc
        double l2

    double fp_d_net_loss_weighted(const fp_net *net, const double *params, int64_t n,
                                  const double *X, const double *Y, const double *w,
                                  double *ws, int64_t cap)
    double fp_s_net_loss_weighted(const fp_net *net, const float *params, int64_t n,
                                  const float *X, const float *Y, const double *w,
                                  float *ws, int64_t cap)
    int64_t fp_d_net_train(const fp_net *net, double *params, int64_t n, const double *X,
                           const double *Y, int64_t batch, int64_t n_epochs, int shuffle,
                           uint64_t *rng, int64_t *perm, const fp_optim *opt, double *state,
                           double *ws, int64_t cap, double *grad, double *gather,
                           double *epoch_loss, int64_t n_val, const double *Xv,
                           const double *Yv, double *val_loss, const fp_train_opts *tr)
    int64_t fp_s_net_train(const fp_net *net, float *params, int64_t n, const float *X,
                           const float *Y, int64_t batch, int64_t n_epochs, int shuffle,
                           uint64_t *rng, int64_t *perm, const fp_optim *opt, float *state,
                           float *ws, int64_t cap, float *grad, float *gather,
                           double *epoch_loss, int64_t n_val, const float *Xv,
                           const float *Yv, double *val_loss, const fp_train_opts *tr)
