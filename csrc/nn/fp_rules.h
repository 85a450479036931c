/* fp_rules.h: the tables of fastprop's rules, each kind declared once. Everything else is
 * derived from these lists: the C enums and counts below, the switches that dispatch on a
 * code (fp_activation.inc, fp_loss.inc, fp_optim.inc), the names and facts that the
 * bindings export (fp_rule_tables.c), and Python's name -> code mappings built from them.
 *
 * Adding an activation: one line in FP_ACTIVATIONS, and its forward rule beside its
 * derivative in fp_activation.inc. Adding an optimizer: one line in FP_OPTIMIZERS, its update
 * in fp_optim.inc, and its Python class (hyper-parameter checks) in fastprop/optim.py. */
#ifndef FP_RULES_H
#define FP_RULES_H

/* X(ID, name, init, shape, place)
 *   init:  weight initialisation, GLOROT (Xavier uniform) or HE (Kaiming uniform, fan-in)
 *   shape: ELEM (one element at a time) or ROW (couples a row: softmax)
 *   place: ANY layer, or OUTPUT only
 * The codes are the order of the list: keep existing entries where they are (saved files and
 * the golden-bits test name activations, not codes, but codes are what the C passes carry). */
#define FP_ACTIVATIONS(X)                                                                    \
    X(IDENTITY, identity, GLOROT, ELEM, ANY)                                                 \
    X(SIGMOID, sigmoid, GLOROT, ELEM, ANY)                                                   \
    X(TANH, tanh, GLOROT, ELEM, ANY)                                                         \
    X(RELU, relu, HE, ELEM, ANY)                                                             \
    X(LEAKY_RELU, leaky_relu, HE, ELEM, ANY)                                                 \
    X(SOFTMAX, softmax, GLOROT, ROW, OUTPUT)                                                 \
    X(GELU, gelu, HE, ELEM, ANY)                                                             \
    X(GELU_TANH, gelu_tanh, HE, ELEM, ANY)                                                   \
    X(SILU, silu, HE, ELEM, ANY)                                                             \
    X(ELU, elu, HE, ELEM, ANY)                                                               \
    X(SOFTPLUS, softplus, HE, ELEM, ANY)

/* X(ID, name): mean-reduced losses, each value beside its gradient in fp_loss.inc. */
#define FP_LOSSES(X)                                                                         \
    X(MSE, mse)                                                                              \
    X(BCE, binary_cross_entropy)                                                             \
    X(CE, cross_entropy)

/* X(ID, name, n_state): optimizers with torch.optim's semantics; n_state is the number of
 * per-parameter state buffers (N values each) the optimizer may use. */
#define FP_OPTIMIZERS(X)                                                                     \
    X(SGD, sgd, 1)                                                                           \
    X(ADAM, adam, 2)                                                                         \
    X(ADAMW, adamw, 2)                                                                       \
    X(RMSPROP, rmsprop, 3)                                                                   \
    X(ADAGRAD, adagrad, 1)

#define FP_RULE_ENUM_(ID, ...) FP_##ID,
enum fp_activation { FP_ACTIVATIONS(FP_RULE_ENUM_) FP_N_ACTIVATIONS };
enum fp_loss_kind { FP_LOSSES(FP_RULE_ENUM_) FP_N_LOSSES };
enum fp_optimizer_kind { FP_OPTIMIZERS(FP_RULE_ENUM_) FP_N_OPTIMIZERS };
#undef FP_RULE_ENUM_

/* 1 when activation `act` couples a row (shape ROW), 0 when it works element by element. */
#define FP_SHAPE_IS_ROW_ELEM 0
#define FP_SHAPE_IS_ROW_ROW 1
#define FP_ROWWISE_CASE_(ID, name, init, shape, place) case FP_##ID: return FP_SHAPE_IS_ROW_##shape;
static inline int fp_activation_rowwise(int act)
{
    switch (act) {
    FP_ACTIVATIONS(FP_ROWWISE_CASE_)
    }
    return 0;
}
#undef FP_ROWWISE_CASE_

#define FP_MAX_OPTIM_STATE 3   /* the largest n_state of FP_OPTIMIZERS (checked in fp_rule_tables.c) */

/* The tables' names and facts, for the bindings (fp_rule_tables.c). Each returns NULL or -1
 * for a code out of range. */
const char *fp_activation_name(int code);
const char *fp_activation_init(int code);     /* "glorot" or "he" */
int fp_activation_output_only(int code);
const char *fp_loss_name(int code);
const char *fp_optimizer_name(int code);
int fp_optimizer_n_state(int code);

#endif
