"""
The notes, line by line, on their own 3-4-1 network
===================================================

The handwritten notes derive backpropagation for ``X·W1 + b1 = Z``,
``Z·W2 + b2 = Ŷ`` and the MSE, with X of n × 3, W1 of 3 × 4 and W2 of 4 × 1.  Here
each formula is evaluated three ways: as written in the notes, by the sknotes node
that implements it, and by finite differences.
"""

# %%
import numpy as np

from sknotes.gradcheck import numerical_gradient
from sknotes.nodes import Linear, MSELoss

rng = np.random.default_rng(0)
n = 5
X, y = rng.standard_normal((n, 3)), rng.standard_normal((n, 1))
W1, b1 = rng.standard_normal((3, 4)), rng.standard_normal(4)
W2, b2 = rng.standard_normal((4, 1)), rng.standard_normal(1)

first, second, mse = Linear(W1, b1), Linear(W2, b2), MSELoss()


def loss():
    return MSELoss().forward(Linear(W2, b2).forward(Linear(W1, b1).forward(X)), y)


Z = first.forward(X)
y_hat = second.forward(Z)
value = mse.forward(y_hat, y)
grad_y_hat = mse.backward().copy()
grad_Z = second.backward(grad_y_hat.copy())
grad_X = first.backward(grad_Z)


def show(label, notes, node, numeric):
    agree = np.allclose(notes, node) and np.allclose(node, numeric, atol=1e-6)
    print(
        f"{label:58s} {'agree' if agree else 'DISAGREE'}  (max |Δ| "
        f"{np.max(np.abs(node - numeric)):.1e})"
    )
    assert agree


# %%
# ① loss = ‖Ŷ − Y‖²/n ;  gradient Ŷ = 2/n (Ŷ − Y)
print(f"① loss = {value:.6f} = ‖Ŷ − Y‖²/n = {np.sum((y_hat - y) ** 2) / n:.6f}")
numeric_y_hat = numerical_gradient(lambda: MSELoss().forward(y_hat, y), y_hat)
show("① gradient Ŷ = 2/n (Ŷ − Y)", 2 / n * (y_hat - y), grad_y_hat, numeric_y_hat)

# %%
# ② gradient w2 = sᵀ·(−2/n)(y − ŷ) ; gradient b2 = −2/n Σ(y − ŷ) ;
#   gradient s = gradient ŷ·w2ᵀ
show(
    "② gradient W2 = Zᵀ · (−2/n)(Y − Ŷ)",
    Z.T @ (-2 / n * (y - y_hat)),
    second.grad_W,
    numerical_gradient(loss, W2),
)
show(
    "② gradient b2 = −2/n Σ (y − ŷ)",
    -2 / n * np.sum(y - y_hat),
    second.grad_b,
    numerical_gradient(loss, b2),
)
# Z is not a parameter: its finite difference perturbs a copy of Z and runs the
# rest of the network, Z·W2 + b2 → MSE, from it.
Z_probe = Z.copy()


def loss_from_Z():
    return MSELoss().forward(Linear(W2, b2).forward(Z_probe), y)


show(
    "② gradient Z = gradient Ŷ · W2ᵀ",
    grad_y_hat @ W2.T,
    grad_Z,
    numerical_gradient(loss_from_Z, Z_probe),
)

# %%
# ③ gradient W1 = Xᵀ · gradient Z ; gradient b1 = −2/n Σ (y − ŷ) w2ᵀ ;
#   gradient X = gradient Z · W1ᵀ
show(
    "③ gradient W1 = −2/n Xᵀ (Y − Ŷ) w2ᵀ",
    -2 / n * X.T @ (y - y_hat) @ W2.T,
    first.grad_W,
    numerical_gradient(loss, W1),
)
show(
    "③ gradient b1 = −2/n Σ (y − ŷ) w2ᵀ",
    (-2 / n * np.sum(y - y_hat) * W2.T).ravel(),
    first.grad_b,
    numerical_gradient(loss, b1),
)
show(
    "③ gradient X = −2/n (Y − Ŷ) w2ᵀ w1ᵀ",
    -2 / n * (y - y_hat) @ W2.T @ W1.T,
    grad_X,
    numerical_gradient(loss, X),
)
print("Every block of the notes matches its node and finite differences.")
