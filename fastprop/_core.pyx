# _core.pyx: fastprop's one compiled module (floor 2). The C of csrc/ is compiled into it once,
# so the run-time state (the instruction-set path, the thread count, the per-thread buffers)
# exists once in the process. Its entry points are written by purpose in the files included
# here: the single kernels (GEMM, activations, losses, facts of the build) and the
# whole-network passes (forward, loss, backprop, finite differences, optimizer, training).
include "_arrays.pxi"
include "_kernels.pxi"
include "_network.pxi"
include "_fast.pxi"
