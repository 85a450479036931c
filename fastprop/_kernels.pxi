# _kernels.pyx: floor 2 entry points for the single kernels of csrc/ (GEMM, activations,
# losses) and the run-time facts (SIMD path, threads). Used by tests and benchmarks to check
# each kernel against a plain numpy reference; the network code calls the C directly.
#
# Design:
# - One fused type (`floating`) across all arrays of a call; inputs `const floating[:, ::1]`.
# - Every shape is checked here before C touches memory; errors name the argument and both
#   numbers. The C call then runs without the GIL. Outputs are given by the caller.
from cython cimport floating
from libc.stdint cimport int64_t

from fastprop._csrc cimport *


def _gemm_shapes(bint trans_a, bint trans_b, Py_ssize_t ar, Py_ssize_t ac,
                 Py_ssize_t br, Py_ssize_t bc, Py_ssize_t cr, Py_ssize_t cc):
    cdef Py_ssize_t M = ac if trans_a else ar, K = ar if trans_a else ac
    cdef Py_ssize_t Kb = bc if trans_b else br, N = br if trans_b else bc
    if K != Kb:
        raise ValueError(f"B: expected op(B) with {K} rows to match op(A)'s columns, got {Kb}")
    if cr != M or cc != N:
        raise ValueError(f"C: expected shape ({M}, {N}), got ({cr}, {cc})")
    return M, N, K


def gemm(bint trans_a, bint trans_b, double alpha, const floating[:, ::1] A,
         const floating[:, ::1] B, double beta, floating[:, ::1] C, bias=None,
         bint reference=False):
    """C = alpha op(A) op(B) + beta C (+ bias row), in place; `reference` uses the plain loop."""
    M, N, K = _gemm_shapes(trans_a, trans_b, A.shape[0], A.shape[1], B.shape[0], B.shape[1],
                           C.shape[0], C.shape[1])
    cdef const floating[::1] b
    cdef const floating *bp = NULL
    if bias is not None:
        b = bias
        if b.shape[0] != N:
            raise ValueError(f"bias: expected {N} elements, got {b.shape[0]}")
        if N > 0:
            bp = &b[0]
    if M == 0 or N == 0:
        return
    cdef const floating *ap = &A[0, 0] if A.shape[0] * A.shape[1] > 0 else NULL
    cdef const floating *bq = &B[0, 0] if B.shape[0] * B.shape[1] > 0 else NULL
    cdef Py_ssize_t lda = A.shape[1], ldb = B.shape[1], ldc = C.shape[1]
    cdef Py_ssize_t m = M, n = N, k = K
    with nogil:
        if floating is double:
            if reference:
                fp_dgemm_ref(trans_a, trans_b, m, n, k, alpha, ap, lda, bq, ldb, beta, &C[0, 0], ldc, bp)
            else:
                fp_dgemm(trans_a, trans_b, m, n, k, alpha, ap, lda, bq, ldb, beta, &C[0, 0], ldc, bp)
        else:
            if reference:
                fp_sgemm_ref(trans_a, trans_b, m, n, k, alpha, ap, lda, bq, ldb, beta, &C[0, 0], ldc, bp)
            else:
                fp_sgemm(trans_a, trans_b, m, n, k, alpha, ap, lda, bq, ldb, beta, &C[0, 0], ldc, bp)


cdef _same_shape(str name, Py_ssize_t r, Py_ssize_t c, Py_ssize_t er, Py_ssize_t ec):
    if r != er or c != ec:
        raise ValueError(f"{name}: expected shape ({er}, {ec}), got ({r}, {c})")


cdef _check_codes(int act, int loss):
    if act < 0 or act >= FP_N_ACTIVATIONS:
        raise ValueError(f"act: unknown activation code {act}")
    if loss < 0 or loss >= FP_N_LOSSES:
        raise ValueError(f"loss: unknown loss code {loss}")


def rule_tables():
    """The tables of csrc/nn/fp_rules.h, in code order: {"activations": [(name, init,
    output_only)], "losses": [name], "optimizers": [(name, n_state)]}. Python's name -> code
    mappings are built from them, so C and Python cannot disagree."""
    cdef int c
    return {
        "activations": [(fp_activation_name(c).decode(), fp_activation_init(c).decode(),
                         bool(fp_activation_output_only(c))) for c in range(FP_N_ACTIVATIONS)],
        "losses": [fp_loss_name(c).decode() for c in range(FP_N_LOSSES)],
        "optimizers": [(fp_optimizer_name(c).decode(), fp_optimizer_n_state(c))
                       for c in range(FP_N_OPTIMIZERS)],
    }


def activation_forward(int act, const floating[:, ::1] Z, floating[:, ::1] A):
    """A = f(Z)."""
    _check_codes(act, 0)
    cdef Py_ssize_t n = Z.shape[0], m = Z.shape[1]
    _same_shape("A", A.shape[0], A.shape[1], n, m)
    if n * m == 0:
        return
    with nogil:
        if floating is double:
            fp_d_activation_forward(act, n, m, &Z[0, 0], &A[0, 0])
        else:
            fp_s_activation_forward(act, n, m, &Z[0, 0], &A[0, 0])


def activation_backward(int act, const floating[:, ::1] Z, const floating[:, ::1] A,
                        const floating[:, ::1] dA, floating[:, ::1] dZ):
    """dZ = dA * f'(Z) (softmax: its Jacobian-vector product)."""
    _check_codes(act, 0)
    cdef Py_ssize_t n = Z.shape[0], m = Z.shape[1]
    _same_shape("A", A.shape[0], A.shape[1], n, m)
    _same_shape("dA", dA.shape[0], dA.shape[1], n, m)
    _same_shape("dZ", dZ.shape[0], dZ.shape[1], n, m)
    if n * m == 0:
        return
    with nogil:
        if floating is double:
            fp_d_activation_backward(act, n, m, &Z[0, 0], &A[0, 0], &dA[0, 0], &dZ[0, 0])
        else:
            fp_s_activation_backward(act, n, m, &Z[0, 0], &A[0, 0], &dA[0, 0], &dZ[0, 0])


def loss_value(int loss, int act, const floating[:, ::1] Z, const floating[:, ::1] A,
               const floating[:, ::1] Y):
    """Mean loss of an output block from its pre-activation Z and activation A."""
    _check_codes(act, loss)
    cdef Py_ssize_t n = Z.shape[0], m = Z.shape[1]
    _same_shape("A", A.shape[0], A.shape[1], n, m)
    _same_shape("Y", Y.shape[0], Y.shape[1], n, m)
    if n * m == 0:
        raise ValueError(f"Z: expected a non-empty block, got ({n}, {m})")
    cdef double value
    with nogil:
        if floating is double:
            value = fp_d_loss_value(loss, act, n, m, &Z[0, 0], &A[0, 0], &Y[0, 0])
        else:
            value = fp_s_loss_value(loss, act, n, m, &Z[0, 0], &A[0, 0], &Y[0, 0])
    return value


def loss_gradient(int loss, int act, const floating[:, ::1] Z, const floating[:, ::1] A,
                  const floating[:, ::1] Y, floating[:, ::1] dZ):
    """dZ of the output layer for the mean loss."""
    _check_codes(act, loss)
    cdef Py_ssize_t n = Z.shape[0], m = Z.shape[1]
    _same_shape("A", A.shape[0], A.shape[1], n, m)
    _same_shape("Y", Y.shape[0], Y.shape[1], n, m)
    _same_shape("dZ", dZ.shape[0], dZ.shape[1], n, m)
    if n * m == 0:
        raise ValueError(f"Z: expected a non-empty block, got ({n}, {m})")
    with nogil:
        if floating is double:
            fp_d_loss_gradient(loss, act, n, m, &Z[0, 0], &A[0, 0], &Y[0, 0], &dZ[0, 0])
        else:
            fp_s_loss_gradient(loss, act, n, m, &Z[0, 0], &A[0, 0], &Y[0, 0], &dZ[0, 0])


def all_finite(const floating[::1] x):
    """True when no element of x is NaN or infinite (one read pass, nothing allocated)."""
    cdef int64_t n = x.shape[0]
    cdef int ok = 1
    if n == 0:
        return True
    with nogil:
        if floating is double:
            ok = fp_d_all_finite(n, &x[0])
        else:
            ok = fp_s_all_finite(n, &x[0])
    return bool(ok)


def simd_path():
    """The GEMM instruction-set path chosen at run time."""
    return fp_gemm_isa().decode()


def set_num_threads(int n):
    if n < 1:
        raise ValueError(f"n: expected a positive number of threads, got {n}")
    fp_set_num_threads(n)


def get_num_threads():
    return fp_get_num_threads()


def have_openmp():
    return bool(fp_have_openmp())
