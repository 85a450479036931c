"""XOR with a 2-8-1 network: tanh hidden units, sigmoid output, binary cross-entropy computed
from the logits, Adam. Run: python examples/xor.py"""
import numpy as np

import fastprop as fp

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
y = np.array([0, 1, 1, 0], dtype=float)

net = fp.mlp([2, 8, 1], hidden="tanh", output="sigmoid", loss="binary_cross_entropy", seed=0)
hist = net.fit(X, y, epochs=300, batch_size=4, optimizer=fp.Adam(lr=0.05), progress=True)
print(f"loss {hist.loss[0]:.4f} -> {hist.loss[-1]:.6f}")
print("predictions:", net.predict(X).round(3).ravel())
print(fp.gradcheck(net, X, y))
