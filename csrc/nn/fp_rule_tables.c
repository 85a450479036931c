/* fp_rule_tables.c: the names and facts of fp_rules.h's tables, for the bindings, which build
 * Python's name -> code mappings from them. */
#include "fp_rules.h"

#define FP_NAME_(ID, name, ...) #name,
#define FP_INIT_(ID, name, init, ...) FP_INIT_##init,
#define FP_INIT_GLOROT "glorot"
#define FP_INIT_HE "he"
#define FP_PLACE_(ID, name, init, shape, place) FP_PLACE_##place,
#define FP_PLACE_ANY 0
#define FP_PLACE_OUTPUT 1
#define FP_STATE_(ID, name, n_state) n_state,

static const char *const activation_names[] = { FP_ACTIVATIONS(FP_NAME_) };
static const char *const activation_inits[] = { FP_ACTIVATIONS(FP_INIT_) };
static const int activation_output_only[] = { FP_ACTIVATIONS(FP_PLACE_) };
#define FP_LOSS_NAME_(ID, name) #name,
static const char *const loss_names[] = { FP_LOSSES(FP_LOSS_NAME_) };
static const char *const optimizer_names[] = { FP_OPTIMIZERS(FP_NAME_) };
static const int optimizer_n_state[] = { FP_OPTIMIZERS(FP_STATE_) };

#define FP_MAX_STATE_CHECK_(ID, name, n_state) _Static_assert(n_state <= FP_MAX_OPTIM_STATE, \
    "FP_MAX_OPTIM_STATE is below an optimizer's n_state");
FP_OPTIMIZERS(FP_MAX_STATE_CHECK_)

#define FP_IN_RANGE(code, count) ((code) >= 0 && (code) < (count))

const char *fp_activation_name(int c) { return FP_IN_RANGE(c, FP_N_ACTIVATIONS) ? activation_names[c] : 0; }
const char *fp_activation_init(int c) { return FP_IN_RANGE(c, FP_N_ACTIVATIONS) ? activation_inits[c] : 0; }
int fp_activation_output_only(int c) { return FP_IN_RANGE(c, FP_N_ACTIVATIONS) ? activation_output_only[c] : -1; }
const char *fp_loss_name(int c) { return FP_IN_RANGE(c, FP_N_LOSSES) ? loss_names[c] : 0; }
const char *fp_optimizer_name(int c) { return FP_IN_RANGE(c, FP_N_OPTIMIZERS) ? optimizer_names[c] : 0; }
int fp_optimizer_n_state(int c) { return FP_IN_RANGE(c, FP_N_OPTIMIZERS) ? optimizer_n_state[c] : -1; }
