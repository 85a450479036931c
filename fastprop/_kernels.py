"""The single kernels of the compiled module (fastprop._core), under the name tests and
benchmarks use to check each kernel against a plain reference."""
from fastprop._core import (activation_backward, activation_forward, all_finite, gemm,
                            get_num_threads, have_openmp, loss_gradient, loss_value,
                            set_num_threads, simd_path)

__all__ = ["activation_backward", "activation_forward", "all_finite", "gemm",
           "get_num_threads", "have_openmp", "loss_gradient", "loss_value", "set_num_threads",
           "simd_path"]
