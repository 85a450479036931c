"""The ONNX Runtime peer of benchmarks/compare.py for inference (an optional one: the `bench`
extra installs onnx and onnxruntime): the forward pass of an MLP, built as an ONNX graph with
onnx.helper from the weights given (MatMul, Add, the activation, per layer; a dynamic batch
dimension), run by an InferenceSession created once, with `threads` intra-op threads and one
inter-op thread, all graph optimisations on. Nothing here imports fastprop."""
import numpy as np

# ONNX operator of each activation (None: nothing to apply).
ONNX_OPS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "identity": None,
            "softmax": "Softmax"}
OPSET = 17      # Softmax over the last axis (opset >= 13), which ONNX Runtime 1.x runs


def load():
    """(onnxruntime module, None), or (None, why not)."""
    try:
        import onnx  # noqa: F401
        import onnxruntime
    except Exception as exc:       # not installed, or a wheel that does not load here
        return None, f"onnx/onnxruntime is not usable ({type(exc).__name__}: {exc})"
    return onnxruntime, None


def version():
    ort, _ = load()
    return getattr(ort, "__version__", None)


def mlp_graph(weights, acts, dtype):
    """The ONNX ModelProto of the MLP: input "x" (batch, n_in), output "y" (batch, n_out);
    weights: (W (n_in, n_out), b) pairs; acts: each layer's activation name."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    if len(weights) != len(acts):
        raise ValueError(f"acts: expected {len(weights)} activations, got {len(acts)}")
    elem = {np.dtype(np.float32): TensorProto.FLOAT,
            np.dtype(np.float64): TensorProto.DOUBLE}[np.dtype(dtype)]
    nodes, inits = [], []
    prev = "x"
    for i, ((W, b), act) in enumerate(zip(weights, acts)):
        if act not in ONNX_OPS:
            raise ValueError(f"acts: expected one of {sorted(ONNX_OPS)}, got {act!r}")
        inits.append(numpy_helper.from_array(np.ascontiguousarray(W, dtype=dtype), f"W{i}"))
        inits.append(numpy_helper.from_array(np.ascontiguousarray(b, dtype=dtype), f"b{i}"))
        nodes.append(helper.make_node("MatMul", [prev, f"W{i}"], [f"m{i}"]))
        z = f"z{i}" if ONNX_OPS[act] or i < len(acts) - 1 else "y"
        nodes.append(helper.make_node("Add", [f"m{i}", f"b{i}"], [z]))
        prev = z
        if ONNX_OPS[act]:
            a = f"a{i}" if i < len(acts) - 1 else "y"
            kw = {"axis": -1} if act == "softmax" else {}
            nodes.append(helper.make_node(ONNX_OPS[act], [z], [a], **kw))
            prev = a
    n_in, n_out = weights[0][0].shape[0], weights[-1][0].shape[1]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", elem, ["batch", n_in])],
        [helper.make_tensor_value_info("y", elem, ["batch", n_out])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="fastprop benchmarks")
    model.ir_version = 8          # what ONNX Runtime releases of the last years all read
    onnx.checker.check_model(model)
    return model


def session(weights, acts, dtype, threads=1):
    """f(x) -> numpy array: an InferenceSession of mlp_graph, created once here, with
    `threads` intra-op threads, one inter-op thread, sequential execution."""
    ort, why = load()
    if ort is None:
        raise ImportError(why)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(mlp_graph(weights, acts, dtype).SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    run = sess.run
    return lambda x: run(["y"], {"x": x})[0]
