"""torch's value, grad and hvp of one problem share a forward pass (and grad's backward pass):
the results are those of each quantity computed alone, and a fault in one step is still that
cell's own."""

import pytest

from harness.backends.torch_backend import Torch, TorchNamespace
from harness.execute import run_cell
from harness.library import load_cases
from harness.problem import make_problem
from harness.runner import Runner

torch = pytest.importorskip("torch")

SHARED = ("value", "grad", "hvp")


@pytest.mark.parametrize("name", ["two_paths", "mlp_tanh_cross_entropy", "softmax_1d"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_shared_passes_give_the_bits_of_each_quantity_computed_alone(name, dtype):
    p = make_problem(load_cases()[name], 0, dtype)
    shared, alone = Torch(), Torch()
    assert shared.available() is None and alone.available() is None
    shared.prepare([(p, SHARED)])
    got = {q: run_cell(shared, q, p) for q in SHARED}
    assert shared._kept is None  # the hvp, the last step, let its graph go
    for q in SHARED:
        want = run_cell(alone, q, p)  # never prepared: every quantity from its own passes
        assert got[q].ok and want.ok, (got[q].reason, want.reason)
        assert got[q].value.tobytes() == want.value.tobytes(), q


def _tanh_without_double_backward():
    """tanh whose backward refuses to be differentiated: it raises when asked to build its own
    graph (create_graph=True), as a custom op without a second-order rule does."""

    class Tanh(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = torch.tanh(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            if torch.is_grad_enabled():
                raise RuntimeError("tanh has no second derivative here")
            (y,) = ctx.saved_tensors
            return g * (1 - y * y)

    return Tanh.apply


def test_a_fault_in_the_second_backward_fails_the_hvp_cell_only(monkeypatch):
    init = TorchNamespace.__init__

    def patched(self, *args):
        init(self, *args)
        self.tanh = _tanh_without_double_backward()

    monkeypatch.setattr(TorchNamespace, "__init__", patched)
    case = load_cases()["two_paths_reduced"]  # sum(tanh(x) * cos(x))
    rows, _ = Runner(["torch", "inhouse", "fd"], seed=0).run_case(case, ["float64"], SHARED)
    torch_rows = {r["quantity"]: r for r in rows if r["backend"] == "torch"}
    assert torch_rows["value"]["verdict"] == "pass"
    # grad's backward builds its graph for the hvp, which raises: computed alone, it passes
    assert torch_rows["grad"]["verdict"] == "pass", torch_rows["grad"]["reason"]
    hvp = torch_rows["hvp"]
    assert hvp["verdict"] == "error" and hvp["blame"] == "torch"
    assert "RuntimeError: tanh has no second derivative here" in hvp["reason"]
    others = [r for r in rows if r["backend"] != "torch"]
    assert {r["verdict"] for r in others} == {"pass"}


def test_a_fault_in_the_forward_pass_is_each_cells_own(monkeypatch):
    init = TorchNamespace.__init__

    def broken(x):
        raise ValueError("planted in the forward pass")

    def patched(self, *args):
        init(self, *args)
        self.tanh = broken

    monkeypatch.setattr(TorchNamespace, "__init__", patched)
    p = make_problem(load_cases()["two_paths_reduced"], 0, "float64")
    be = Torch()
    assert be.available() is None
    be.prepare([(p, SHARED)])
    for q in SHARED:  # each cell meets the fault itself, in its own words
        out = run_cell(be, q, p)
        assert out.status == "error", q
        assert "ValueError: planted in the forward pass" in out.reason
        assert "in the forward pass (while the case ran)" in out.reason
