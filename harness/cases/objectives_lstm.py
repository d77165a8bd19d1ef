"""ADBench's LSTM objective (Srajer, Kucukelbir, Fitzgibbon 2018, the LSTM problem): l layers
of an LSTM whose weight matrices are diagonal (each gate weighs its input elementwise), run
over a sequence of c steps of b numbers, scored by the log-softmax of each step's prediction
against the next step.

main (2l, 4b): row 2j the weights of layer j, row 2j + 1 its biases, for the gates (forget,
input, output, change) applied to (x, h, x, h); extra (3, b): the input scale, the output scale
and the output bias. With the state (h_j, s_j) of each layer and the sequence y_0 .. y_{c-1}
(constants), one step from input x (x = y_t) is

    x ← x · extra_0;  per layer j:  [f, i, o, g] = [σ, σ, σ, tanh]([x, h_j, x, h_j] main_2j
    + main_2j+1),  s_j ← s_j f + i g,  h_j ← o tanh(s_j),  x ← h_j;  ŷ_t = x · extra_1 + extra_2

(each gate the elementwise product of its b inputs with its b weights, plus its biases),

and the objective is −Σ_t Σ_k y_{t+1,k} log_softmax(ŷ_t)_k / ((c − 1) b). Sizes: l = 2,
b = 2, c = 3 (38 parameters: dense Jacobian and Hessian), and under the tag ``large`` ADBench's
l = 2, b = 14 (266 parameters) on c = 16 steps, not ADBench's 1024: the harness unrolls the
loop, and XLA's compile of JAX's forward-over-reverse HVP of the unrolled program grows about
quadratically with the steps (4 s at 8, 16 s at 16, past 20 GB of memory at 128).
"""

from __future__ import annotations

from harness.cases.objectives import LARGE, data
from harness.registry import array, case


def lstm_inputs(layers: int, b: int) -> dict:
    return {"main": array(2 * layers, 4 * b), "extra": array(3, b)}


def lstm_objective(xp, main, extra, state, sequence):
    """The objective above, for the constant state (2l, b) and sequence (c, b)."""
    # negative axes: fd evaluates a batch of points in one call
    layers, b, c = main.shape[-2] // 2, extra.shape[-1], sequence.shape[0]
    h = [xp.asarray(state[2 * j]) for j in range(layers)]
    s = [xp.asarray(state[2 * j + 1]) for j in range(layers)]
    # gate g of layer j: weights main[2j, gb:(g+1)b], biases main[2j+1, gb:(g+1)b]
    w = [[(main[2 * j, g * b : (g + 1) * b], main[2 * j + 1, g * b : (g + 1) * b])
          for g in range(4)] for j in range(layers)]  # fmt: skip
    total = 0
    for t in range(c - 1):
        x = xp.asarray(sequence[t]) * extra[0]
        for j, ((wf, bf), (wi, bi), (wo, bo), (wg, bg)) in enumerate(w):
            f, i, o = xp.sigmoid(x * wf + bf), xp.sigmoid(h[j] * wi + bi), xp.sigmoid(x * wo + bo)
            s[j] = s[j] * f + i * xp.tanh(h[j] * wg + bg)
            h[j] = o * xp.tanh(s[j])
            x = h[j]
        predicted = x * extra[1] + extra[2]
        total = total + xp.sum(xp.asarray(sequence[t + 1]) * xp.log_softmax(predicted))
    # a working-dtype constant: torch's jvp promotes a 0-d float32 times a python float
    return total * xp.asarray(-1.0 / ((c - 1) * b))


@case(family="objectives", inputs=lstm_inputs(2, 2))
def lstm_l2_b2_c3(xp, main, extra):
    """l = −Σ_t y_{t+1} · log_softmax(ŷ_t) / ((c − 1) b), a 2-layer diagonal LSTM, c = 3."""
    return lstm_objective(xp, main, extra, data(41, 4, 2), data(42, 3, 2, low=0, high=1))


@case(family="objectives", inputs=lstm_inputs(2, 14), tags=LARGE)
def lstm_l2_b14_c16(xp, main, extra):
    """l = −Σ_t y_{t+1} · log_softmax(ŷ_t) / ((c − 1) b), ADBench's l = 2, b = 14 on c = 16."""
    return lstm_objective(xp, main, extra, data(43, 4, 14), data(44, 16, 14, low=0, high=1))
