"""Every compiled kernel against a plain numpy reference written here: GEMM (all four
transpose combinations, alpha / beta / bias, beta = 0 never reading C, small and odd shapes,
both dtypes, the blocked SIMD path and the plain reference loop; products of few rows, and
their bits against the packed path's), activation forward and backward for each code (softmax
backward as a Jacobian-vector product), loss values and output gradients; and numerical
stability at |z| = 1000 (no warning, no NaN, exact limits)."""
import itertools
import warnings

import os
import subprocess
import sys

import numpy as np
import pytest

import fastprop as fp
from fastprop import _kernels
from fastprop.activations import ACTIVATIONS
from fastprop.losses import LOSSES

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import assert_same_bits  # noqa: E402

DTYPES = [np.float64, np.float32]
TRANS = list(itertools.product([False, True], repeat=2))
TRANS_IDS = [f"{'T' if a else 'N'}{'T' if b else 'N'}" for a, b in TRANS]
SMALL = [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 20]
ODD = [(1, 300, 7), (300, 1, 5), (5, 3, 300), (127, 129, 65), (257, 31, 97), (33, 255, 130),
       (299, 157, 211)]


# ---- GEMM ---------------------------------------------------------------------------------
def gemm(trans_a, trans_b, alpha, A, B, beta, C, bias=None, reference=False):
    """_kernels.gemm of C's dtype: the float32 specialisation is picked explicitly, so that
    the numerical tests below check float32 arithmetic even while the dispatch from Python
    float scalars is broken (test_gemm_accepts_float32_arrays_with_python_float_scalars)."""
    kernel = _kernels.gemm["float"] if C.dtype == np.float32 else _kernels.gemm["double"]
    return kernel(trans_a, trans_b, alpha, A, B, beta, C, bias=bias, reference=reference)


def test_gemm_accepts_float32_arrays_with_python_float_scalars():
    # The documented call: alpha and beta are Python floats whatever the arrays' dtype.
    A = np.ones((2, 3), dtype=np.float32)
    B = np.full((3, 2), 2.0, dtype=np.float32)
    C = np.zeros((2, 2), dtype=np.float32)
    _kernels.gemm(False, False, 1.0, A, B, 0.0, C)
    np.testing.assert_array_equal(C, np.full((2, 2), 6.0, dtype=np.float32))


def gemm_operands(rng, m, n, k, trans_a, trans_b, dtype):
    A = rng.uniform(-1, 1, size=(k, m) if trans_a else (m, k)).astype(dtype)
    B = rng.uniform(-1, 1, size=(n, k) if trans_b else (k, n)).astype(dtype)
    C = rng.uniform(-1, 1, size=(m, n)).astype(dtype)
    bias = rng.uniform(-1, 1, size=n).astype(dtype)
    return A, B, C, bias


def gemm_reference(trans_a, trans_b, alpha, A, B, beta, C, bias):
    """(expected, bound): float64 result and an elementwise rounding bound scale."""
    opA = A.T.astype(np.float64) if trans_a else A.astype(np.float64)
    opB = B.T.astype(np.float64) if trans_b else B.astype(np.float64)
    expected = alpha * (opA @ opB)
    scale = abs(alpha) * (np.abs(opA) @ np.abs(opB))
    if beta != 0:
        expected = expected + beta * C.astype(np.float64)
        scale = scale + abs(beta) * np.abs(C.astype(np.float64))
    if bias is not None:
        expected = expected + bias.astype(np.float64)
        scale = scale + np.abs(bias.astype(np.float64))
    return expected, scale


def check_gemm(trans_a, trans_b, alpha, A, B, beta, C, bias, reference):
    expected, scale = gemm_reference(trans_a, trans_b, alpha, A, B, beta, C, bias)
    k = A.shape[0] if trans_a else A.shape[1]
    eps = np.finfo(C.dtype).eps
    out = C.copy()
    gemm(trans_a, trans_b, alpha, A, B, beta, out, bias=bias, reference=reference)
    assert out.dtype == C.dtype and out.shape == expected.shape
    err = np.abs(out.astype(np.float64) - expected)
    bound = 4 * (k + 3) * eps * scale + np.finfo(C.dtype).tiny
    assert np.all(err <= bound), (f"max error {err.max():.3g}, worst ratio "
                                  f"{(err / bound).max():.3g} for shape {expected.shape} k={k}")
    return out


@pytest.mark.parametrize("reference", [False, True], ids=["simd", "reference"])
@pytest.mark.parametrize("trans_a,trans_b", TRANS, ids=TRANS_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_gemm_matches_numpy_for_all_small_shapes(dtype, trans_a, trans_b, reference):
    rng = np.random.default_rng(0)
    for m, n, k in itertools.product(SMALL, repeat=3):
        A, B, C, bias = gemm_operands(rng, m, n, k, trans_a, trans_b, dtype)
        check_gemm(trans_a, trans_b, 1.0, A, B, 0.0, C, None, reference)
    for m, n, k in itertools.product(SMALL[::3], repeat=3):
        A, B, C, bias = gemm_operands(rng, m, n, k, trans_a, trans_b, dtype)
        check_gemm(trans_a, trans_b, -0.75, A, B, 1.5, C, bias, reference)


@pytest.mark.parametrize("reference", [False, True], ids=["simd", "reference"])
@pytest.mark.parametrize("trans_a,trans_b", TRANS, ids=TRANS_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_gemm_matches_numpy_for_odd_large_shapes_with_alpha_beta_bias(dtype, trans_a, trans_b,
                                                                    reference):
    rng = np.random.default_rng(1)
    for i, (m, n, k) in enumerate(ODD):
        A, B, C, bias = gemm_operands(rng, m, n, k, trans_a, trans_b, dtype)
        alpha, beta = [(1.0, 0.0), (0.5, 1.0), (-2.0, -0.25)][i % 3]
        check_gemm(trans_a, trans_b, alpha, A, B, beta, C, bias if i % 2 else None, reference)


@pytest.mark.parametrize("reference", [False, True], ids=["simd", "reference"])
@pytest.mark.parametrize("trans_a,trans_b", TRANS, ids=TRANS_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_gemm_with_beta_zero_never_reads_nan_filled_c(dtype, trans_a, trans_b, reference):
    rng = np.random.default_rng(2)
    for m, n, k in [(1, 1, 1), (3, 5, 7), (17, 9, 20), (130, 70, 90)]:
        A, B, _, bias = gemm_operands(rng, m, n, k, trans_a, trans_b, dtype)
        for b in (None, bias):
            C = np.full((m, n), np.nan, dtype=dtype)
            out = check_gemm(trans_a, trans_b, 1.0, A, B, 0.0, np.zeros_like(C), b, reference)
            gemm(trans_a, trans_b, 1.0, A, B, 0.0, C, bias=b, reference=reference)
            assert np.isfinite(C).all()
            np.testing.assert_array_equal(C, out)


@pytest.mark.parametrize("reference", [False, True], ids=["simd", "reference"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_gemm_alpha_zero_gives_beta_c_plus_bias(dtype, reference):
    rng = np.random.default_rng(3)
    A, B, C, bias = gemm_operands(rng, 6, 5, 4, False, False, dtype)
    out = C.copy()
    gemm(False, False, 0.0, A, B, 0.5, out, bias=bias, reference=reference)
    np.testing.assert_allclose(out, 0.5 * C + bias, rtol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("reference", [False, True], ids=["simd", "reference"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_gemm_with_empty_inner_dimension_gives_beta_c_plus_bias(dtype, reference):
    A = np.zeros((4, 0), dtype=dtype)
    B = np.zeros((0, 3), dtype=dtype)
    C = np.arange(12, dtype=dtype).reshape(4, 3)
    bias = np.array([1, 2, 3], dtype=dtype)
    out = C.copy()
    gemm(False, False, 1.0, A, B, 2.0, out, bias=bias, reference=reference)
    np.testing.assert_array_equal(out, 2 * C + bias)
    out = np.full_like(C, np.nan)
    gemm(False, False, 1.0, A, B, 0.0, out, bias=None, reference=reference)
    np.testing.assert_array_equal(out, np.zeros_like(C))


def test_gemm_simd_and_reference_paths_agree_to_rounding():
    rng = np.random.default_rng(4)
    for dtype in DTYPES:
        for ta, tb in TRANS:
            A, B, C, bias = gemm_operands(rng, 77, 45, 123, ta, tb, dtype)
            fast, slow = C.copy(), C.copy()
            gemm(ta, tb, 1.25, A, B, 0.5, fast, bias=bias)
            gemm(ta, tb, 1.25, A, B, 0.5, slow, bias=bias, reference=True)
            np.testing.assert_allclose(fast, slow, rtol=0, atol=130 * 4 * np.finfo(dtype).eps * 50)


def test_gemm_result_does_not_depend_on_thread_count():
    rng = np.random.default_rng(5)
    A, B, C, bias = gemm_operands(rng, 300, 280, 260, False, True, np.float64)
    outs = []
    for threads in (1, 2):
        fp.set_num_threads(threads)
        out = C.copy()
        gemm(False, True, 1.0, A, B, 1.0, out, bias=bias)
        outs.append(out)
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-13, atol=1e-12)


# ---- GEMM of few rows (the forward pass of one to a few samples) ---------------------------
# The frame's few-row limit (FP_GEMM_SMALLM_MAX_M in csrc/gemm/fp_gemm.c); the tests go one row
# past it.
FEW_ROWS = 16
# (N, K): odd widths around the vector widths, KC (256) and a 784-wide input; the last two are
# past the no-packing threshold already at one row (N*K > 120**3), so every M <= FEW_ROWS takes
# the few-row path in KC blocks under the default thresholds.
FEW_SHAPES = [(1, 1), (7, 17), (17, 7), (33, 255), (255, 784), (784, 255), (257, 300),
              (1601, 1100), (1024, 1700)]


@pytest.mark.parametrize("trans_a", [False, True], ids=["N", "T"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_gemm_of_few_rows_matches_numpy_with_alpha_beta_bias(dtype, trans_a):
    rng = np.random.default_rng(12)
    v = 0
    for n, k in FEW_SHAPES:
        for m in range(1, FEW_ROWS + 2):
            A, B, C, bias = gemm_operands(rng, m, n, k, trans_a, False, dtype)
            alpha, beta = [(1.0, 0.0), (0.5, 1.0), (-2.0, -0.25), (1.5, 0.0)][v % 4]
            check_gemm(trans_a, False, alpha, A, B, beta, C, bias if v % 3 else None, False)
            v += 1


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_gemm_of_few_rows_with_beta_zero_never_reads_nan_filled_c(dtype):
    rng = np.random.default_rng(13)
    for (n, k), m in itertools.product([(300, 784), (1601, 1100)], [1, 2, 3, 5, FEW_ROWS]):
        A, B, _, bias = gemm_operands(rng, m, n, k, False, False, dtype)
        for b in (None, bias):
            out = check_gemm(False, False, 1.0, A, B, 0.0, np.zeros((m, n), dtype), b, False)
            C = np.full((m, n), np.nan, dtype=dtype)
            gemm(False, False, 1.0, A, B, 0.0, C, bias=b)
            np.testing.assert_array_equal(C, out)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_gemm_of_one_to_three_rows_gives_the_bits_of_the_same_rows_in_a_taller_product(dtype):
    """One to three rows run wider column strips than the no-packing path's other tiles (more
    accumulators in flight); each element's operations are the same, so the rows of a 1-, 2- or
    3-row product equal the rows of a 6-row product (both under the no-packing threshold, one
    pass over K, K past KC here) and of a 40-row product where K fits one KC block."""
    rng = np.random.default_rng(14)
    for n, k, tall in [(300, 784, 6), (257, 555, 6), (129, 1000, 6), (1000, 256, 40),
                       (64, 64, 40), (77, 200, 40)]:
        for trans_a in (False, True):
            A, B, C, bias = gemm_operands(rng, tall, n, k, trans_a, False, dtype)
            whole = C.copy()
            gemm(trans_a, False, 0.75, A, B, 0.5, whole, bias=bias)
            for m in (1, 2, 3):
                part = C[:m].copy()
                Am = np.ascontiguousarray(A[:, :m] if trans_a else A[:m])
                gemm(trans_a, False, 0.75, Am, B, 0.5, part, bias=bias)
                assert part.tobytes() == whole[:m].tobytes(), (n, k, m, trans_a)


_FEW_ROWS_SCRIPT = r"""
import sys, numpy as np
from fastprop import _kernels
few, shapes = int(sys.argv[2]), [tuple(map(int, s.split("x"))) for s in sys.argv[3].split(",")]
rng = np.random.default_rng(15)
out = []
for dt in (np.float32, np.float64):
    for N, K in shapes:
        for ta in (0, 1):
            for M in range(1, few + 2):
                A = rng.uniform(-1, 1, (K, M) if ta else (M, K)).astype(dt)
                B = rng.uniform(-1, 1, (K, N)).astype(dt)
                bias = rng.uniform(-1, 1, N).astype(dt)
                for alpha, beta, bb in ((0.75, 0.5, bias), (1.5, 0.0, bias), (1.0, 0.0, None),
                                        (-2.0, 1.0, None)):
                    C = rng.uniform(-1, 1, (M, N)).astype(dt)
                    if beta == 0:
                        C[...] = np.nan
                    _kernels.gemm(ta, 0, alpha, A, B, beta, C, bb)
                    out.append(C)
np.save(sys.argv[1], np.concatenate([o.ravel().view(np.uint8) for o in out]))
print(_kernels.simd_path())
"""


def _script_bits_under_env(tmp_path, script_text, args, env_updates, tag):
    """(bytes saved by script_text, its stdout) run in a fresh interpreter with env_updates."""
    script = tmp_path / "few_rows_script.py"
    script.write_text(script_text)
    env = dict(os.environ)
    for name, value in env_updates.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    path = tmp_path / f"{tag}.npy"
    r = subprocess.run([sys.executable, str(script), str(path)] + args, env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return np.load(path), r.stdout.strip()


@pytest.mark.parametrize("isa", [None, "avx2", "generic"], ids=["default", "avx2", "generic"])
def test_gemm_of_few_rows_gives_the_packed_paths_bits(tmp_path, isa):
    """Products of at most FEW_ROWS rows with B not transposed that are past the no-packing
    threshold read B in place, once per KC block, in the packed path's order: the same bits as
    the packed path (FASTPROP_GEMM_SUP_MNK=0 forces it for every product). With the threshold
    at 1, every such product of the odd shapes takes the few-row path; under the default
    thresholds, the shapes past the threshold at one row do. On every instruction-set path."""
    small = ",".join(f"{n}x{k}" for n, k in FEW_SHAPES[:-2])
    large = ",".join(f"{n}x{k}" for n, k in FEW_SHAPES[-2:])
    runs = {}
    for tag, shapes, sup in [("few_small", small, "1"), ("packed_small", small, "0"),
                             ("few_large", large, None), ("packed_large", large, "0")]:
        runs[tag] = _script_bits_under_env(
            tmp_path, _FEW_ROWS_SCRIPT, [str(FEW_ROWS), shapes],
            {"FASTPROP_GEMM_ISA": isa, "FASTPROP_GEMM_SUP_MNK": sup}, tag)
    for what in ("small", "large"):
        few, packed = runs[f"few_{what}"], runs[f"packed_{what}"]
        assert few[1] == packed[1]
        assert few[0].size > 10 ** 5
        assert few[0].tobytes() == packed[0].tobytes(), what


def test_gemm_refuses_mismatched_shapes_naming_the_argument():
    A = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"B: .*4.*5"):
        gemm(False, False, 1.0, A, np.zeros((5, 2)), 0.0, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"C: expected shape \(3, 2\), got \(2, 3\)"):
        gemm(False, False, 1.0, A, np.zeros((4, 2)), 0.0, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"bias: expected 2 elements, got 3"):
        gemm(False, False, 1.0, A, np.zeros((4, 2)), 0.0, np.zeros((3, 2)),
                      bias=np.zeros(3))


# ---- activations --------------------------------------------------------------------------
ACT_NAMES = list(ACTIVATIONS)


def act_inputs(dtype, rng, n=9, m=7):
    Z = rng.uniform(-6, 6, size=(n, m))
    Z[0, :3] = 0.0                      # the kink, exactly
    Z[1, :2] = [30.0, -30.0]            # saturation
    return Z.astype(dtype)


def tol(dtype):
    return dict(rtol=1e-13, atol=1e-15) if dtype == np.float64 else dict(rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", ACT_NAMES)
def test_activation_forward_matches_numpy(ref, name, dtype):
    rng = np.random.default_rng(6)
    Z = act_inputs(dtype, rng)
    A = np.full_like(Z, np.nan)
    _kernels.activation_forward(ACTIVATIONS[name].code, Z, A)
    assert A.dtype == dtype
    np.testing.assert_allclose(A, ref.act_forward(name, Z.astype(np.float64)), **tol(dtype))
    if name == "softmax":
        np.testing.assert_allclose(A.sum(axis=1), 1.0, rtol=10 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", ACT_NAMES)
def test_activation_backward_matches_numpy_derivative(ref, name, dtype):
    rng = np.random.default_rng(7)
    Z = act_inputs(dtype, rng)
    A = np.empty_like(Z)
    _kernels.activation_forward(ACTIVATIONS[name].code, Z, A)
    dA = rng.normal(size=Z.shape).astype(dtype)
    dZ = np.full_like(Z, np.nan)
    _kernels.activation_backward(ACTIVATIONS[name].code, Z, A, dA, dZ)
    expected = ref.act_backward(name, Z.astype(np.float64), A.astype(np.float64),
                                dA.astype(np.float64))
    np.testing.assert_allclose(dZ, expected, **tol(dtype))
    if name in ("relu", "leaky_relu"):     # PyTorch's kinks: relu'(0) = 0, leaky'(0) = slope
        slope = 0.0 if name == "relu" else 0.01
        np.testing.assert_allclose(dZ[0, :3], slope * dA[0, :3], rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_softmax_backward_is_the_jacobian_vector_product_of_finite_differences(dtype):
    # Independent of the closed form: d/dt softmax(z + t v) . dA at t = 0 is v . (J^T dA).
    rng = np.random.default_rng(8)
    Z = rng.normal(size=(4, 5))
    A = np.empty_like(Z)
    _kernels.activation_forward(ACTIVATIONS["softmax"].code, Z, A)
    dA = rng.normal(size=Z.shape)
    dZ = np.empty_like(Z)
    _kernels.activation_backward(ACTIVATIONS["softmax"].code, Z, A, dA, dZ)
    h = 1e-6
    for r in range(4):
        for j in range(5):
            zp, zm = Z[r].copy(), Z[r].copy()
            zp[j] += h
            zm[j] -= h
            sp = np.exp(zp - zp.max()) / np.exp(zp - zp.max()).sum()
            sm = np.exp(zm - zm.max()) / np.exp(zm - zm.max()).sum()
            assert dZ[r, j] == pytest.approx(((sp - sm) / (2 * h)) @ dA[r], rel=1e-7, abs=1e-10)


@pytest.mark.parametrize("name", ACT_NAMES)
def test_activation_backward_in_place_equals_out_of_place(name):
    # The network calls the backward kernel with dA and dZ the same buffer.
    rng = np.random.default_rng(9)
    Z = act_inputs(np.float64, rng)
    A = np.empty_like(Z)
    code = ACTIVATIONS[name].code
    _kernels.activation_forward(code, Z, A)
    dA = rng.normal(size=Z.shape)
    out = np.empty_like(Z)
    _kernels.activation_backward(code, Z, A, dA, out)
    _kernels.activation_backward(code, Z, A, dA, dA)
    np.testing.assert_array_equal(dA, out)


def test_activation_kernels_refuse_bad_shapes_and_codes():
    Z = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"A: expected shape \(3, 4\), got \(4, 3\)"):
        _kernels.activation_forward(1, Z, np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"dZ: expected shape \(3, 4\), got \(3, 5\)"):
        _kernels.activation_backward(1, Z, Z, Z, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="act"):
        _kernels.activation_forward(99, Z, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="loss"):
        _kernels.loss_value(7, 0, Z, Z, Z)


# ---- losses ----------------------------------------------------------------------------
LOSS_CASES = [("mse", a) for a in ACT_NAMES] + [
    ("binary_cross_entropy", "sigmoid"), ("binary_cross_entropy", "softmax"),
    ("cross_entropy", "softmax")]


def loss_inputs(ref, loss, act, dtype, rng, n=6, m=4):
    Z = rng.uniform(-4, 4, size=(n, m))
    A = ref.act_forward(act, Z)
    if loss == "mse":
        Y = rng.normal(size=(n, m))
    elif loss == "binary_cross_entropy":
        Y = rng.uniform(0, 1, size=(n, m))
        Y[0] = np.round(Y[0])
    else:
        Y = np.eye(m)[rng.integers(0, m, size=n)]
        Y[-1] = rng.dirichlet(np.ones(m))           # a probability row too
    return Z.astype(dtype), A.astype(dtype), Y.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("loss,act", LOSS_CASES, ids=[f"{l}-{a}" for l, a in LOSS_CASES])
def test_loss_value_matches_numpy(ref, loss, act, dtype):
    rng = np.random.default_rng(10)
    Z, A, Y = loss_inputs(ref, loss, act, dtype, rng)
    value = _kernels.loss_value(LOSSES[loss].code, ACTIVATIONS[act].code, Z, A, Y)
    expected = ref.loss_value(loss, act, Z.astype(np.float64), A.astype(np.float64),
                              Y.astype(np.float64))
    assert isinstance(value, float)
    assert value == pytest.approx(expected, rel=1e-13 if dtype == np.float64 else 1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("loss,act", LOSS_CASES, ids=[f"{l}-{a}" for l, a in LOSS_CASES])
def test_loss_gradient_matches_numpy(ref, loss, act, dtype):
    rng = np.random.default_rng(11)
    Z, A, Y = loss_inputs(ref, loss, act, dtype, rng)
    dZ = np.full_like(Z, np.nan)
    _kernels.loss_gradient(LOSSES[loss].code, ACTIVATIONS[act].code, Z, A, Y, dZ)
    expected = ref.loss_gradient(loss, act, Z.astype(np.float64), A.astype(np.float64),
                                 Y.astype(np.float64))
    scale = np.abs(expected).max()
    np.testing.assert_allclose(dZ, expected, rtol=1e-12 if dtype == np.float64 else 1e-5,
                               atol=(1e-15 if dtype == np.float64 else 1e-7) * scale)


@pytest.mark.parametrize("loss,act", LOSS_CASES, ids=[f"{l}-{a}" for l, a in LOSS_CASES])
def test_loss_gradient_is_the_derivative_of_loss_value(loss, act, ref):
    # Central differences of the compiled loss_value over Z, with A recomputed from Z.
    rng = np.random.default_rng(12)
    Z, _, Y = loss_inputs(ref, loss, act, np.float64, rng, n=3, m=4)
    code_l, code_a = LOSSES[loss].code, ACTIVATIONS[act].code

    def value(Zp):
        A = np.empty_like(Zp)
        _kernels.activation_forward(code_a, Zp, A)
        return _kernels.loss_value(code_l, code_a, Zp, A, Y)

    A = np.empty_like(Z)
    _kernels.activation_forward(code_a, Z, A)
    dZ = np.empty_like(Z)
    _kernels.loss_gradient(code_l, code_a, Z, A, Y, dZ)
    numeric = np.empty_like(Z)
    h = 1e-5
    for idx in np.ndindex(*Z.shape):
        zp, zm = Z.copy(), Z.copy()
        zp[idx] += h
        zm[idx] -= h
        numeric[idx] = (value(zp) - value(zm)) / (2 * h)
    assert ref.rel_error(dZ, numeric) < 1e-6


# ---- stability at |z| = 1000 ------------------------------------------------------------
BIG = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0], [-1000.0, -1000.0, -999.0]])


def strict(call, *args):
    """Runs call with every warning an error and numpy raising on any floating-point event."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            return call(*args)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", ["sigmoid", "softmax", "tanh"])
def test_activations_at_magnitude_1000_are_finite_and_exact(name, dtype):
    Z = BIG.astype(dtype)
    A = np.empty_like(Z)
    strict(_kernels.activation_forward, ACTIVATIONS[name].code, Z, A)
    assert np.isfinite(A).all()
    if name == "sigmoid":
        np.testing.assert_array_equal(A[Z == 1000], 1.0)
        np.testing.assert_array_equal(A[Z == -1000], 0.0)
        assert A[0, 2] == 0.5
    elif name == "softmax":
        np.testing.assert_allclose(A.sum(axis=1), 1.0, rtol=1e-6)
        np.testing.assert_array_equal(A[0], [1.0, 0.0, 0.0])
        assert A[1, 1] == pytest.approx(1 / (1 + np.exp(-1.0)), rel=1e-6)
    else:
        np.testing.assert_array_equal(np.abs(A[np.abs(Z) == 1000]), 1.0)
    dA = np.ones_like(Z)
    dZ = np.empty_like(Z)
    strict(_kernels.activation_backward, ACTIVATIONS[name].code, Z, A, dA, dZ)
    assert np.isfinite(dZ).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("loss,act", [("binary_cross_entropy", "sigmoid"),
                                      ("binary_cross_entropy", "softmax"),
                                      ("cross_entropy", "softmax"),
                                      ("mse", "sigmoid"), ("mse", "softmax")])
def test_losses_at_magnitude_1000_are_finite_without_warnings(loss, act, dtype):
    Z = BIG.astype(dtype)
    A = np.empty_like(Z)
    strict(_kernels.activation_forward, ACTIVATIONS[act].code, Z, A)
    if loss == "cross_entropy":
        Y = np.eye(3, dtype=dtype)[[1, 0, 2]]          # row 0: the wrong class by 2000
    else:
        Y = np.array([[0, 1, 0.5], [1, 0, 1], [0, 1, 0]], dtype=dtype)
    value = strict(_kernels.loss_value, LOSSES[loss].code, ACTIVATIONS[act].code, Z, A, Y)
    dZ = np.full_like(Z, np.nan)
    strict(_kernels.loss_gradient, LOSSES[loss].code, ACTIVATIONS[act].code, Z, A, Y, dZ)
    assert np.isfinite(value)
    assert np.isfinite(dZ).all()
    if (loss, act) == ("binary_cross_entropy", "sigmoid"):
        # softplus(z) - y z computed stably in numpy
        Zd, Yd = BIG, Y.astype(np.float64)
        expected = np.mean(np.logaddexp(0, Zd) - Yd * Zd)
        assert value == pytest.approx(expected, rel=1e-6)
    if loss == "cross_entropy":
        zd = BIG
        lse = zd.max(axis=1) + np.log(np.exp(zd - zd.max(axis=1, keepdims=True)).sum(axis=1))
        expected = np.mean(lse - (Y.astype(np.float64) * zd).sum(axis=1))
        assert value == pytest.approx(expected, rel=1e-6)
        assert value > 600


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("gap", [50.0, 87.2, 95.0, 99.0, 120.0, 800.0])
def test_bce_on_softmax_takes_the_log_of_a_flushed_probability_from_the_logits(gap, dtype):
    """PyTorch's BCELoss on a softmax: -mean(y log p + (1-y) log(1-p)), logs clamped at -100.
    float32's exp here flushes below exp(-87) to 0 where the true p (and torch's) is tiny but
    log p is still above -100: the loss must use log p, not the clamp."""
    Z = np.array([[0.0, -gap, 3.0], [-gap / 2, 0.0, -gap]], dtype=dtype)
    A = np.empty_like(Z)
    strict(_kernels.activation_forward, ACTIVATIONS["softmax"].code, Z, A)
    Y = np.array([[1.0, 1.0, 0.0], [0.25, 1.0, 0.75]], dtype=dtype)
    value = strict(_kernels.loss_value, LOSSES["binary_cross_entropy"].code,
                   ACTIVATIONS["softmax"].code, Z, A, Y)
    zd = Z.astype(np.float64)
    logp = zd - zd.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    with np.errstate(divide="ignore"):        # log(1 - p) of p == 1: -inf, clamped below
        log1mp = np.log1p(-np.exp(logp))
    Yd = Y.astype(np.float64)
    expected = -np.mean(Yd * np.maximum(logp, -100) + (1 - Yd) * np.maximum(log1mp, -100))
    assert value == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_network_with_huge_logits_backprops_finite_values_without_warnings(dtype):
    X = np.array([[1.0, -1.0], [-1.0, 1.0]])
    for output, loss, y in [("sigmoid", "binary_cross_entropy", np.array([0.0, 1.0])),
                            ("softmax", "cross_entropy", np.array([1, 0]))]:
        n_out = 1 if output == "sigmoid" else 2
        net = fp.mlp([2, n_out], output=output, loss=loss, dtype=dtype)
        net.layers[0].W[...] = 500.0 * np.array([[1.0], [-1.0]])[:, :1].repeat(n_out, axis=1) \
            * np.array([1, -1][:n_out])
        value, grad = strict(net.backprop, X, y)
        assert np.isfinite(value) and np.isfinite(grad).all()
        assert value > 100


# ---- finiteness check ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8, 13, 64, 1001])
def test_all_finite_agrees_with_numpy_wherever_the_bad_value_is(dtype, n):
    kernel = _kernels.all_finite["float"] if dtype == np.float32 else _kernels.all_finite["double"]
    info = np.finfo(dtype)
    rng = np.random.default_rng(n)
    x = rng.normal(size=n).astype(dtype)
    if n >= 4:   # the extremes of the finite range are finite
        x[:4] = [info.max, -info.max, info.tiny, info.smallest_subnormal]
    assert kernel(x) is True
    for bad in (np.nan, -np.nan, np.inf, -np.inf):
        for at in {0, n // 2, n - 1} if n else ():
            y = x.copy()
            y[at] = bad
            assert kernel(y) is False, (bad, at)
            assert kernel(y) == bool(np.isfinite(y).all())


# ---- the AVX2 copies of the elementwise passes give the baseline's bits ---------------------
_ISA_SCRIPT = r"""
import sys, numpy as np
import fastprop as fp
from fastprop import _kernels, _core
rng = np.random.default_rng(11)
out = []
for dt in (np.float32, np.float64):
    Z = (4 * rng.standard_normal((300, 301))).astype(dt)       # 90300 elements: threaded path
    Z[0, :5] = [0, -0.0, 800, -800, 1e-30]
    dA = rng.standard_normal(Z.shape).astype(dt)
    for act in range(1, len(fp.ACTIVATIONS)):
        A = np.empty_like(Z); dZ = np.empty_like(Z)
        _kernels.activation_forward(act, Z, A)
        _kernels.activation_backward(act, Z, A, dA, dZ)
        out += [A, dZ]
    N = 100003
    for opt in (fp.SGD(lr=0.1), fp.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
                fp.Adam(lr=1e-3, weight_decay=1e-2), fp.AdamW(lr=1e-3),
                fp.RMSprop(momentum=0.9, centered=True, weight_decay=1e-3),
                fp.Adagrad(lr_decay=0.01, weight_decay=1e-3, initial_accumulator_value=0.1)):
        p = rng.standard_normal(N).astype(dt); g = rng.standard_normal(N).astype(dt)
        state = opt._initial_state(3, N, dt)
        for _ in range(3):
            assert _core.optim_step(opt._spec(opt._args()), p, g, state)
        out += [p, state]
np.save(sys.argv[1], np.concatenate([o.ravel().view(np.uint8) for o in out]))
print(_kernels.simd_path())
"""


def test_avx2_copies_of_activations_and_optimizers_give_the_baseline_bits(tmp_path):
    """Large elementwise passes run AVX2-compiled copies (without FMA) where the CPU has AVX2;
    FASTPROP_GEMM_ISA=generic forces the baseline code. Both must give the same bits."""
    assert_same_bits(tmp_path, _ISA_SCRIPT, "generic", "generic", 10 ** 6)


# ---- the AVX-512 GEMM gives the AVX2 GEMM's bits -------------------------------------------
_GEMM_ISA_SCRIPT = r"""
import sys, numpy as np
import fastprop as fp
from fastprop import _kernels
rng = np.random.default_rng(5)
out = []
# packed path with edge tiles in M, N and K blocks, every layout, alpha/beta/bias; the
# no-packing path (small and N <= 8); one network's loss and gradient
# (then: masked column tails up to the top lane of both vector widths; then few rows: the wide
# strips of 1-3 rows, the few-row path in KC blocks; then the digits nets' products and the
# AVX-512 no-packing tiles of 7 to 12 rows, masked strips of 2 and 3 vectors, and column
# remainders of up to half a vector, which the AVX-512 path leaves to the AVX2 one)
shapes = [(300, 291, 530), (128, 256, 784), (37, 70, 33), (5, 3, 900), (64, 64, 64), (32, 10, 64),
          (7, 17, 5), (4, 31, 9), (8, 47, 12), (3, 15, 9), (6, 23, 8), (9, 7, 11), (10, 16, 3),
          (1, 300, 784), (2, 129, 1000), (3, 77, 300), (1, 1601, 1100), (16, 256, 784),
          (9, 1024, 1700), (200, 100, 64), (200, 10, 100), (23, 36, 7), (26, 21, 9),
          (25, 41, 9), (15, 13, 5), (29, 25, 6), (8, 12, 4), (7, 20, 3)]
for dt in (np.float32, np.float64):
    for M, N, K in shapes:
        for ta in (0, 1):
            for tb in (0, 1):
                A = rng.standard_normal((K, M) if ta else (M, K)).astype(dt)
                B = rng.standard_normal((N, K) if tb else (K, N)).astype(dt)
                bias = rng.standard_normal(N).astype(dt)
                # beta 0: alpha*sum + bias; alpha 1, beta 0, no bias: stored straight from the
                # accumulators on the AVX-512 path
                for alpha, beta, bb in ((0.75, 0.5, bias), (1.5, 0.0, bias), (1.0, 0.0, None)):
                    C = rng.standard_normal((M, N)).astype(dt)
                    _kernels.gemm(ta, tb, alpha, A, B, beta, C, bb)
                    out.append(C)
    net = fp.mlp([784, 256, 128, 10], hidden="relu", output="softmax", loss="cross_entropy",
                 dtype=dt, seed=1)
    X = rng.standard_normal((128, 784)).astype(dt)
    y = rng.integers(0, 10, 128)
    loss, grad = net.backprop(X, y)
    out += [np.array([loss], dt), grad]
np.save(sys.argv[1], np.concatenate([o.ravel().view(np.uint8) for o in out]))
print(_kernels.simd_path())
"""


def test_avx512_gemm_gives_the_avx2_gemms_bits(tmp_path):
    """Where the CPU has AVX-512, the GEMM runs AVX-512 micro-kernels; FASTPROP_GEMM_ISA=avx2
    caps it at the AVX2 ones. Both sum every element with FMA in ascending k, so products and
    whole gradients must have the same bits."""
    if not fp.simd_path().startswith("avx512"):
        pytest.skip(f"this CPU runs the {fp.simd_path()} path, not AVX-512")
    assert_same_bits(tmp_path, _GEMM_ISA_SCRIPT, "avx2", "avx2+fma", 10 ** 6, fp.simd_path())


# ---- the one-sample path of tiny networks gives the general path's bits --------------------
_TINY_ISA_SCRIPT = r"""
import sys, numpy as np
import fastprop as fp
rng = np.random.default_rng(3)
out = []
# widths up to one register (8 doubles, 16 floats) and past it (the general path then), every
# activation and loss, every optimizer form (weight decay, momentum, Nesterov, Adam), shuffled
# and not, with validation data
cases = [([2, 3, 1], "sigmoid", "sigmoid", "mse"), ([4, 8, 8, 3], "tanh", "softmax", "cross_entropy"),
         ([5, 16, 2], "relu", "identity", "mse"), ([3, 7, 1], "leaky_relu", "sigmoid",
         "binary_cross_entropy"), ([6, 5, 4, 3, 2], "sigmoid", "identity", "mse"),
         ([9, 1, 1], "identity", "identity", "mse"), ([40, 17, 3], "tanh", "softmax", "cross_entropy"),
         ([200, 8, 1], "relu", "sigmoid", "binary_cross_entropy")]
for dt in ("float64", "float32"):
    for sizes, hid, o, loss in cases:
        X = rng.standard_normal((23, sizes[0]))
        if loss == "cross_entropy":
            y = rng.integers(0, sizes[-1], 23)
        elif loss == "binary_cross_entropy":
            y = (rng.random((23, sizes[-1])) > 0.5).astype(float)
        else:
            y = rng.standard_normal((23, sizes[-1]))
        opts = [(fp.SGD(lr=0.01, weight_decay=1e-3), True),
                (fp.SGD(lr=0.01, momentum=0.9), False),
                (fp.SGD(lr=0.01, momentum=0.9, nesterov=True), True),
                (fp.Adam(lr=0.01, weight_decay=1e-3), False),
                (fp.Adam(lr=0.01, eps=1e-40), True)]    # eps subnormal in float32: the general path
        for opt, shuffle in opts:
            net = fp.mlp(sizes, hidden=hid, output=o, loss=loss, dtype=dt, seed=1)
            try:
                h = net.fit(X, y, epochs=3, batch_size=1, optimizer=opt, shuffle=shuffle, seed=2,
                            validation_data=(X[:5], y[:5]))
                out += [np.array(h.loss), np.array(h.val_loss)]
            except fp.TrainingDivergedError:
                out.append(np.array([-1.0]))
            out.append(net.params.astype(np.float64))
    # divergence: stopped before the bad update, last finite parameters kept
    net = fp.mlp([3, 4, 1], hidden="relu", output="identity", loss="mse", dtype=dt, seed=0)
    Xd = rng.standard_normal((50, 3)) * 1e3
    try:
        net.fit(Xd, Xd[:, :1] * 1e3, epochs=50, batch_size=1, optimizer=fp.SGD(lr=10.0))
        out.append(np.array([0.0]))
    except fp.TrainingDivergedError:
        out.append(np.array([1.0]))
    out.append(net.params.astype(np.float64))
np.save(sys.argv[1], np.concatenate(out))
print(fp.simd_path())
"""


def test_tiny_network_one_sample_path_gives_the_general_paths_bits(tmp_path):
    """Where the CPU has AVX-512, per-sample training of networks whose layers fit in one
    register runs csrc/nn/fp_tiny.inc (FASTPROP_GEMM_ISA=avx2 turns it off). Same operations in
    the same order as the general small-layer path: the parameters, losses and the divergence
    stop must have the same bits."""
    if not fp.simd_path().startswith("avx512"):
        pytest.skip(f"this CPU runs the {fp.simd_path()} path, not AVX-512")
    assert_same_bits(tmp_path, _TINY_ISA_SCRIPT, "avx2", "avx2+fma", 2000, fp.simd_path())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_is_within_4_ulp_of_libm_and_keeps_its_edges(dtype):
    """tanh is computed in plain arithmetic (-expm1(-2|z|) / (2 + expm1(-2|z|)), so that it
    vectorises) instead of a libm call per element; measured within 3 ulp of glibc."""
    import math
    rng = np.random.default_rng(7)
    z = np.concatenate([np.linspace(-12, 12, 200001), rng.uniform(-1, 1, 100000),
                        np.geomspace(1e-30, 20, 100000), -np.geomspace(1e-30, 20, 1000)])
    z = z.astype(dtype)
    got = np.empty_like(z).reshape(1, -1)
    _kernels.activation_forward(2, z.reshape(1, -1), got)
    got = got.ravel()
    ref64 = np.array([math.tanh(float(v)) for v in z])          # libm, double
    ref = ref64.astype(dtype)
    ulps = np.abs(got.astype(np.float64) - ref64) / np.spacing(np.abs(ref)).astype(np.float64)
    assert ulps.max() <= 4, (ulps.max(), z[ulps.argmax()])
    edges = np.array([0.0, -0.0, 800.0, -800.0, np.inf, -np.inf, np.nan, 1e-30], dtype=dtype)
    out = np.empty_like(edges).reshape(1, -1)
    _kernels.activation_forward(2, edges.reshape(1, -1), out)
    out = out.ravel()
    assert out[0] == 0 and not np.signbit(out[0]) and out[1] == 0 and np.signbit(out[1])
    assert list(out[2:6]) == [1, -1, 1, -1]
    assert np.isnan(out[6]) and out[7] == dtype(1e-30)
