# _arrays.pxi: numpy arrays through numpy's C API, for the checks of the small-call fast path
# (_fast.pxi) and of TrainJob.rebind: a check here reads the array object's fields, where a
# typed memoryview would export its buffer (a few hundred nanoseconds each). Part of
# fastprop._core, included before the files that use it.
cimport numpy as cnp
from libc.float cimport DBL_MAX, FLT_MAX
from libc.stdint cimport int64_t

cnp.import_array()


cdef inline bint _plain(object a, int typenum):
    """a is an exact ndarray of typenum, native byte order, aligned and C-contiguous."""
    if not cnp.PyArray_CheckExact(a):
        return False
    cdef cnp.ndarray arr = <cnp.ndarray>a
    return (cnp.PyArray_TYPE(arr) == typenum and cnp.PyArray_ISBEHAVED_RO(arr)
            and cnp.PyArray_IS_C_CONTIGUOUS(arr))


cdef inline bint _within(cnp.ndarray arr, int f64, double lo, double hi) noexcept:
    """Every element finite and in [lo, hi]: one pass without branches in the loop, so the
    compiler vectorises it (a NaN fails both comparisons)."""
    cdef Py_ssize_t i, n = cnp.PyArray_SIZE(arr)
    cdef int ok = 1
    cdef const double *d
    cdef const float *s
    cdef float slo, shi
    if f64:
        d = <const double *>cnp.PyArray_DATA(arr)
        lo, hi = max(lo, -DBL_MAX), min(hi, DBL_MAX)
        for i in range(n):
            ok &= (d[i] >= lo) & (d[i] <= hi)
    else:
        s = <const float *>cnp.PyArray_DATA(arr)
        slo, shi = <float>max(lo, -FLT_MAX), <float>min(hi, FLT_MAX)
        for i in range(n):
            ok &= (s[i] >= slo) & (s[i] <= shi)
    return ok


cdef inline bint _shaped(object a, int typenum, int64_t rows, int64_t cols):
    """a is plain (above), 2-D, of shape (rows, cols)."""
    return (_plain(a, typenum) and cnp.PyArray_NDIM(<cnp.ndarray>a) == 2
            and cnp.PyArray_DIM(<cnp.ndarray>a, 0) == rows
            and cnp.PyArray_DIM(<cnp.ndarray>a, 1) == cols)
