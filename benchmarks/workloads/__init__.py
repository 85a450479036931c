"""The workloads of benchmarks/compare.py, by name, in the order they run. Each is a function
of a common.Setup returning a plain result record (dicts, lists, numbers: JSON as it is),
with the wall-time and thread-CPU-time figures of every sample inside it."""
from . import digits, fitcost, gemm, inference, minibatch, partial_fit, predict, tutorial

WORKLOADS = {
    "gemm": gemm.run,
    "tutorial": tutorial.run,
    "mnist": minibatch.mnist,
    "big": minibatch.big,
    "digits": digits.run,
    "predict": predict.run,
    "inference": inference.run,
    "fitcost": fitcost.run,
    "partial_fit": partial_fit.run,
}
