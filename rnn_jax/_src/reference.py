"""Literal NumPy transcriptions of the seeds' algorithms, kept as independent references.

Nothing here imports JAX: the tests check rnn_jax against these loops, the benchmark times them
as the baseline, and the validation study trains seed 002 one seed at a time with them.
Names follow the seeds (``W_delta``, ``maSquare``, ``Vs``...). Deviations from the seeds'
text are stated where they occur.
"""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------- seed 000


def seed000_forward_states(X, wx, wRec):
    """Seed 000's forward pass: ``S[:, k+1] = X[:, k] wx + S[:, k] wRec``, ``S[:, 0] = 0``.

    Returns:
      ``S``, ``(n, T + 1)``: the states, the initial zero first.
    """
    S = np.zeros((X.shape[0], X.shape[1] + 1))
    for k in range(0, X.shape[1]):
        S[:, k + 1] = X[:, k] * wx + S[:, k] * wRec
    return S


def seed000_backward_gradient(X, S, grad_out, wRec):
    """Seed 000's backward pass from the output gradient ``grad_out`` ``(n,)``, literally.

    Returns:
      ``((wx_grad, wRec_grad), grad_over_time)``, ``grad_over_time`` ``(n, T + 1)``.
    """
    grad_over_time = np.zeros((X.shape[0], X.shape[1] + 1))
    grad_over_time[:, -1] = grad_out
    wx_grad = 0
    wRec_grad = 0
    for k in range(X.shape[1], 0, -1):
        wx_grad += np.sum(np.mean(grad_over_time[:, k] * X[:, k - 1], axis=0))
        wRec_grad += np.sum(np.mean(grad_over_time[:, k] * S[:, k - 1]), axis=0)
        grad_over_time[:, k - 1] = grad_over_time[:, k] * wRec
    return (wx_grad, wRec_grad), grad_over_time


def seed000_rprop(X, t, W=(-1.5, 2.0), delta0=0.001, eta_p=1.2, eta_n=0.5, iterations=500):
    """Seed 000's Rprop loop. Returns the list of ``(w_x, w_rec)`` after each iteration."""
    W = list(W)
    W_delta = [delta0, delta0]
    W_sign = [0, 0]
    path = [tuple(W)]
    for _ in range(iterations):
        S = seed000_forward_states(X, W[0], W[1])
        grad_out = 2.0 * (S[:, -1] - t)
        W_grads, _ = seed000_backward_gradient(X, S, grad_out, W[1])
        W_sign_new = np.sign(W_grads)
        for i in range(len(W)):
            if W_sign_new[i] == W_sign[i]:
                W_delta[i] *= eta_p
            else:
                W_delta[i] *= eta_n
        W_sign = W_sign_new
        for i in range(len(W)):
            W[i] -= W_sign[i] * W_delta[i]
        path.append(tuple(W))
    return path


# --------------------------------------------------------------------------- seed 001


def seed001_backpropagation(w, u, v, a_h, y_hat, x, y):
    """Seed 001's ``RNN2.backpropagation``, bugs included, on one sequence.

    Seed shapes: ``w`` (H, K), ``u`` (H, H), ``v`` (K, H); the forward is
    ``s_t = x_t wᵀ + a_{t-1} u + b_h``. The bugs: ``du_t = ds_ht @ a_ht_1`` is a scalar dot
    product broadcast into every entry of ``du``; the gradient sent to ``a_{t-1}`` uses ``u``
    where the forward's ``a u`` needs ``uᵀ``; ``ds_ht_plus_1`` skips nothing else.
    Returns ``dw, dv, du, dbh, dbo``.
    """
    T = len(y)
    n_nodes = u.shape[0]
    du = np.zeros(u.shape)
    dv = np.zeros(v.shape)
    dw = np.zeros(w.shape)
    dbh = np.zeros(n_nodes)
    dbo = np.zeros(v.shape[0])
    ds_ht_plus_1 = np.zeros(n_nodes)
    for t in reversed(range(T)):
        dbo_t = y_hat[t] - y[t].T
        dv_t = dbo_t[:, np.newaxis] @ a_h[t][:, np.newaxis].T
        dbo += dbo_t
        dv += dv_t
        da_ht = (y_hat[t] - y[t]) @ v + ds_ht_plus_1 @ u
        ds_ht = da_ht * (1 - a_h[t] ** 2)
        ds_ht_plus_1 = ds_ht
        dw_t = ds_ht[:, np.newaxis] @ x[t][:, np.newaxis].T
        a_ht_1 = a_h[t - 1] if t - 1 >= 0 else np.zeros(n_nodes)
        du_t = ds_ht @ a_ht_1
        dw += dw_t
        du += du_t
        dbh += ds_ht
    return dw, dv, du, dbh, dbo


def seed001_feedforward(w, u, v, b_h, b_o, x):
    """Seed 001's forward pass over one sequence ``x`` (one-hot rows): ``a_t = tanh(x_t w^T +
    a_{t-1} u + b_h)``, ``y_t = softmax(a_t v^T + b_o)``.

    Returns:
      ``(a_h, y_hat)``: the lists of hidden states and of output distributions.
    """
    a_h, y_hat = [], []
    for t in range(len(x)):
        a_prev = np.zeros(u.shape[0]) if t == 0 else a_h[t - 1]
        a_t = np.tanh(x[t] @ w.T + a_prev @ u + b_h)
        s_o = a_t @ v.T + b_o
        e = np.exp(s_o - np.max(s_o))
        a_h.append(a_t)
        y_hat.append(e / e.sum())
    return a_h, y_hat


# --------------------------------------------------------------------------- seed 002


PARAM_ORDER = ("s0", "w_in", "b_in", "w_rec", "b_rec", "w_out", "b_out")


def seed002_init(rng: np.random.Generator, hidden: int = 3) -> dict:
    """Seed 002's initialisation (Glorot-uniform weights, zero biases and ``S0``)."""

    def glorot(n_in, n_out):
        a = np.sqrt(6.0 / (n_in + n_out))
        return rng.uniform(-a, a, (n_in, n_out))

    return {
        "s0": np.zeros(hidden),
        "w_in": glorot(2, hidden),
        "b_in": np.zeros(hidden),
        "w_rec": glorot(hidden, hidden),
        "b_rec": np.zeros(hidden),
        "w_out": glorot(hidden, 1),
        "b_out": np.zeros(1),
    }


def seed002_encode(a, b, bits: int = 6):
    """Seed 002's tensors for ``a + b``: ``X`` ``(n, bits+1, 2)``, ``T`` ``(n, bits+1, 1)``."""
    shifts = np.arange(bits + 1)
    X = np.stack([(a[:, None] >> shifts) & 1, (b[:, None] >> shifts) & 1], -1).astype(float)
    T = (((a + b)[:, None] >> shifts) & 1).astype(float)[..., None]
    return X, T


def seed002_data(rng: np.random.Generator, n: int, bits: int = 6):
    """``n`` random pairs of ``bits``-bit numbers, as seed 002's ``create_dataset``."""
    return seed002_encode(rng.integers(0, 2**bits, n), rng.integers(0, 2**bits, n), bits)


def seed002_converged(P, bits: int = 6) -> bool:
    """All ``4**bits`` pairs exact (the sweep's criterion), with the seed's forward."""
    g = np.arange(2**bits)
    a, b = (x.ravel() for x in np.meshgrid(g, g, indexing="ij"))
    X, T = seed002_encode(a, b, bits)
    _, _, Z, _ = seed002_forward(P, X)
    return bool(np.all((Z > 0) == (T > 0.5)))


def seed002_forward(P, X):
    """Seed 002's ``RnnBinaryAdder.forward``. ``P`` is a dict of arrays (``PARAM_ORDER``)."""
    recIn = np.tensordot(X, P["w_in"], axes=((-1), (0))) + P["b_in"]
    n, T, H = recIn.shape
    S = np.zeros((n, T + 1, H))
    S[:, 0, :] = P["s0"]
    for k in range(T):
        S[:, k + 1, :] = np.tanh(recIn[:, k, :] + S[:, k, :] @ P["w_rec"] + P["b_rec"])
    Z = np.tensordot(S[:, 1:, :], P["w_out"], axes=((-1), (0))) + P["b_out"]
    Y = 1 / (1 + np.exp(-Z))
    return recIn, S, Z, Y


def seed002_cost(Y, T):
    """Seed 002's cost, with its ``1e-99`` inside the logs."""
    return -np.sum(T * np.log(Y + 1e-99) + (1 - T) * np.log(1 - Y + 1e-99)) / (
        Y.shape[0] * Y.shape[1]
    )


def seed002_grads(P, X, T):
    """Seed 002's ``getParamGrads`` as a dict: the layer-by-layer backward of the seed."""
    recIn, S, Z, Y = seed002_forward(P, X)
    gZ = (Y - T) / (Y.shape[0] * Y.shape[1])
    S_out = S[:, 1:, :]
    gWout = np.tensordot(S_out, gZ, axes=((0, 1), (0, 1)))
    gBout = np.sum(gZ, axis=(0, 1))
    gRecOut = np.tensordot(gZ, P["w_out"].T, axes=((-1), (0)))
    n, steps, H = recIn.shape
    gSk = np.zeros((n, H))
    gRnnIn = np.zeros_like(recIn)
    gWrec = np.zeros_like(P["w_rec"])
    gBrec = np.zeros_like(P["b_rec"])
    for k in range(steps - 1, -1, -1):
        gSk = gSk + gRecOut[:, k, :]
        gz = gSk * (1.0 - S[:, k + 1, :] ** 2)
        gWrec += S[:, k, :].T @ gz
        gBrec += gz.sum(0)
        gSk = gz @ P["w_rec"].T
        gRnnIn[:, k, :] = gz
    gS0 = np.sum(gSk, axis=0)
    gWin = np.tensordot(X, gRnnIn, axes=((0, 1), (0, 1)))
    gBin = np.sum(gRnnIn, axis=(0, 1))
    return {
        "s0": gS0,
        "w_in": gWin,
        "b_in": gBin,
        "w_rec": gWrec,
        "b_rec": gBrec,
        "w_out": gWout,
        "b_out": gBout,
    }


def seed002_train(
    P,
    X_train,
    T_train,
    *,
    lmbd=0.5,
    learning_rate=0.05,
    momentum_term=0.8,
    eps=1e-6,
    mb_size=100,
    epochs=5,
    overlapping=False,
    record=None,
):
    """Seed 002's RMSprop + Nesterov loop. Returns the trained ``P`` (a new dict).

    ``overlapping=True`` slices ``X[mb:mb+mb_size]`` for ``mb`` in ``range(n // mb_size)`` as
    the seed's text does (windows shifted by one sample); the default uses disjoint minibatches
    ``X[i*mb_size:(i+1)*mb_size]``, which is what rnn_jax does. ``record``, if a list, receives
    a copy of ``P`` after each update.
    """
    P = {k: np.array(v, dtype=np.float64) for k, v in P.items()}
    maSquare = {k: np.zeros_like(v) for k, v in P.items()}
    Vs = {k: np.zeros_like(v) for k, v in P.items()}
    nb_train = X_train.shape[0]
    for _ in range(epochs):
        for mb in range(nb_train // mb_size):
            start = mb if overlapping else mb * mb_size
            X_mb = X_train[start : start + mb_size]
            T_mb = T_train[start : start + mb_size]
            V_tmp = {k: v * momentum_term for k, v in Vs.items()}
            for k in P:
                P[k] += V_tmp[k]
            backprop_grads = seed002_grads(P, X_mb, T_mb)
            for k in P:
                maSquare[k] = lmbd * maSquare[k] + (1 - lmbd) * backprop_grads[k] ** 2
                pGradNorm = learning_rate * backprop_grads[k] / np.sqrt(maSquare[k] + eps)
                Vs[k] = V_tmp[k] - pGradNorm
                P[k] -= pGradNorm
            if record is not None:
                record.append({k: v.copy() for k, v in P.items()})
    return P
