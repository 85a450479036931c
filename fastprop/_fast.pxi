# _fast.pxi: the small-call fast path of floor 2 (issue 18), part of fastprop._core.
#
# Design:
# - A call whose arrays are already what the compiled floor takes (exact numpy arrays of the
#   network's dtype, native byte order, C-contiguous, the right shape, finite) is checked here
#   through numpy's C API in one pass, without typed memoryviews (each costs a buffer export),
#   and without np.errstate. Anything else gets None back: the caller then runs the full
#   checks of floor 3, which convert what can be converted and name what is wrong. So every
#   error message stays where it was; this floor only accepts, never refuses.
# - A call this small is not worth releasing the GIL for (a release and a re-acquire cost
#   about as much as a 2-3-1 forward pass): below SMALL_WORK multiply-adds it keeps it.

# multiply-adds of a call below which the GIL is kept (a tenth of a microsecond of work)
cdef int64_t SMALL_WORK = 4096


def rows_ready(object a, int f64, Py_ssize_t n_cols, double lo=-INFINITY, double hi=INFINITY):
    """True when `a` can go to the compiled floor as it is: an exact float64 (f64) or float32
    ndarray, native, C-contiguous, 2-D with at least one row and n_cols columns, every value
    finite and within [lo, hi]. False says nothing about what is wrong (the caller's full
    checks say it)."""
    if not _plain(a, cnp.NPY_DOUBLE if f64 else cnp.NPY_FLOAT):
        return False
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if cnp.PyArray_NDIM(arr) != 2 or cnp.PyArray_DIM(arr, 0) < 1 \
            or cnp.PyArray_DIM(arr, 1) != n_cols:
        return False
    return _within(arr, f64, lo, hi)


def predict_small(NetSpec spec, object params, object X, object ws, int64_t cap):
    """The network's output for X as a new array, or None when X is not ready as it is (see
    rows_ready; of params' dtype), or the workspace `ws` (for `cap` rows) is missing or too
    small for it; then the caller checks, converts and allocates."""
    cdef fp_net *net = &spec.net
    cdef int typenum
    if _plain(params, cnp.NPY_DOUBLE):
        typenum = cnp.NPY_DOUBLE
    elif _plain(params, cnp.NPY_FLOAT):
        typenum = cnp.NPY_FLOAT
    else:
        return None
    cdef int f64 = typenum == cnp.NPY_DOUBLE
    if not _plain(X, typenum) or not _plain(ws, typenum):
        return None
    cdef cnp.ndarray x = <cnp.ndarray>X
    cdef int64_t n_in = net.sizes[0], n_out = net.sizes[net.n_layers]
    if cnp.PyArray_NDIM(x) != 2 or cnp.PyArray_DIM(x, 1) != n_in:
        return None
    cdef int64_t n = cnp.PyArray_DIM(x, 0)
    if n < 1:
        return None
    cdef int64_t rows = _forward_rows(net, n)     # what the workspace must hold
    if rows > cap or not _within(x, f64, -INFINITY, INFINITY):
        return None
    # the checks every compiled call makes, on the sizes of these arrays
    _check_common(net, cnp.PyArray_SIZE(<cnp.ndarray>params), cnp.PyArray_SIZE(<cnp.ndarray>ws),
                  cap, rows, n_in)
    cdef cnp.npy_intp dims[2]
    dims[0], dims[1] = n, n_out
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(2, dims, typenum, 0)
    cdef const void *p = cnp.PyArray_DATA(<cnp.ndarray>params)
    cdef const void *xp = cnp.PyArray_DATA(x)
    cdef void *w = cnp.PyArray_DATA(<cnp.ndarray>ws)
    cdef void *o = cnp.PyArray_DATA(out)
    if n * spec.n_params < SMALL_WORK:
        _forward_blocks(net, f64, p, n, xp, w, cap, o)
    else:
        with nogil:
            _forward_blocks(net, f64, p, n, xp, w, cap, o)
    return out
