"""The classic backpropagation tutorial network, in fastprop: 2 inputs, 3 sigmoid hidden units,
1 sigmoid output, mean squared error, one training example (1, 1) -> 0, per-sample SGD.

Prints the gradient from backprop beside the one from finite differences, then the loss falling.
Run: python examples/tutorial.py"""
import numpy as np

import fastprop as fp

net = fp.Network([fp.Dense(2, 3, "sigmoid"), fp.Dense(3, 1, "sigmoid")], loss="mse", seed=0)
X, y = np.array([[1.0, 1.0]]), np.array([0.0])
print(net)

loss, grad = net.backprop(X, y)                                  # 2 passes
numeric = fp.numerical_gradient(net, X, y, scheme="central")     # 2N = 26 passes
print(f"loss {loss:.6f}")
print("backprop          ", np.array2string(grad, precision=6, max_line_width=200))
print("finite differences", np.array2string(numeric, precision=6, max_line_width=200))
print(fp.gradcheck(net, X, y))

hist = net.fit(X, y, epochs=20, batch_size=1, optimizer=fp.SGD(lr=0.5))
print("loss per epoch:", " ".join(f"{v:.4f}" for v in hist.loss))
