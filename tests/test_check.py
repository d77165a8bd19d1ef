"""harness.check on a user's own torch and jax functions: custom ops, planted bugs, references."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import harness
from harness.errors import UsageError
from harness.vocabulary import QUANTITIES, QUANTITY

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jnp = jax.numpy
jax.config.update("jax_enable_x64", True)

DOC = Path(__file__).resolve().parents[1] / "docs" / "check-your-function.md"
X = [0.5, -0.7, 1.2]


class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * g * x


class SquareWrongBelowZero(Square):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * g * x.abs()


def right(x):
    return torch.sin(Square.apply(x))


def wrong(x):
    return torch.sin(SquareWrongBelowZero.apply(x))


def tensor(values=X, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype, requires_grad=True)


def test_a_right_custom_function_passes_every_check():
    result = harness.check(right, tensor())
    assert result.ok and set(result.summary.verdict) == {"pass"}
    assert set(result.summary.quantity) == {q for q in QUANTITIES if QUANTITY[q].order <= 2}


def test_a_backward_wrong_only_for_negative_inputs_names_that_input():
    with pytest.raises(harness.CheckError) as info:
        harness.check(wrong, tensor())
    text = str(info.value)
    assert isinstance(info.value, AssertionError)
    assert re.search(r"VJP \(order 1\) float64: fn .* at x\[1\] \(input -0\.7\)", text), text
    assert "HVP (order 2)" in text and "blame fn" in text
    bad = info.value.result.failures
    assert set(bad.blame) == {"fn"} and "value" not in set(bad.quantity)


def test_order_one_stops_at_first_derivatives():
    result = harness.check(right, tensor(), order=1)
    assert {q for q in result.summary.quantity} == {"value", "grad", "jvp", "jacobian", "adjoint"}


def test_a_float32_call_is_judged_against_float64_differences_at_the_same_inputs():
    result = harness.check(right, tensor(dtype=torch.float32))
    assert set(result.summary.dtype) == {"float32"} and result.ok
    grads = result.summary[result.summary.quantity == "grad"]
    assert set(grads.reference) == {"fd"} and set(grads.reference_dtype) == {"float64"}
    with pytest.raises(harness.CheckError, match="float32"):
        harness.check(wrong, tensor(dtype=torch.float32))


def test_labels_are_constants_and_in_place_ops_are_allowed():
    def loss(logits, labels):
        z = logits.clone()
        z.mul_(2.0)  # in place
        return torch.nn.functional.cross_entropy(z, labels)

    logits = torch.tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True)
    result = harness.check(loss, logits, torch.tensor([0, 3, 1]))
    assert result.ok
    assert set(result.summary["shape"][result.summary.quantity == "grad"]) == {"(12,)"}


def test_a_jax_custom_vjp_that_drops_a_term_fails_and_the_right_one_passes():
    @jax.custom_vjp
    def f(x, y):
        return jnp.sin(x) * y

    def fwd(x, y):
        return f(x, y), (x, y)

    f.defvjp(fwd, lambda r, g: (g * jnp.cos(r[0]) * r[1], jnp.zeros_like(r[1])))
    x, y = jnp.array([0.3, -1.1]), jnp.array([2.0, 0.5])
    with pytest.raises(harness.CheckError, match=r"VJP .* at y\[\d\]"):
        harness.check(f, x, y)

    @jax.custom_vjp
    def g(x, y):
        return jnp.sin(x) * y

    g.defvjp(lambda x, y: (g(x, y), (x, y)),
             lambda r, c: (c * jnp.cos(r[0]) * r[1], c * jnp.sin(r[0])))  # fmt: skip
    assert harness.check(g, x, y).ok


def test_a_wrong_reference_is_blamed_not_the_function():
    def ref(xp, x):  # written against the namespace: runs on the built-in backends
        return xp.sin(x * x) * 1.01

    result = harness.check(right, tensor(), reference=ref, raise_on_fail=False)
    s = result.summary
    assert set(s[s.backend == "fn"].verdict) == {"pass"}
    refs = s[s.backend.str.startswith("reference-")]
    assert len(set(refs.backend)) >= 2 and "fail" in set(refs.verdict)


def test_a_right_reference_of_another_framework_agrees():
    def ref(x):
        return jnp.sin(x * x)

    result = harness.check(right, tensor(), reference=ref)
    assert result.ok and "reference" in set(result.summary.backend)


def test_an_xp_function_runs_on_every_backend():
    def f(xp, w, x):
        return xp.tanh(w @ x)

    rng = np.random.default_rng(0)
    result = harness.check(f, rng.standard_normal((3, 2)), rng.standard_normal(2), xp=True)
    assert result.ok
    assert {"inhouse", "torch", "jax"} <= set(result.summary.backend)


def test_the_result_writes_the_report_set(tmp_path):
    result = harness.check(wrong, tensor(), raise_on_fail=False, out=tmp_path / "r")
    assert not result.ok
    for f in ("summary.csv", "elements.csv", "report.html", "metadata.json"):
        assert (tmp_path / "r" / f).stat().st_size > 0
    assert list(result.summary.columns[:14]) == [
        "case", "family", "quantity", "order", "dtype", "backend", "reference", "max_abs_err",
        "max_rel_err", "tol_abs", "tol_rel", "verdict", "blame", "reason",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "kw", "text"),
    [
        ((np.ones(3),), {}, "torch tensors or jax arrays"),
        ((torch.ones(3, dtype=torch.long),), {}, "no float array"),
        ((torch.ones(3, dtype=torch.float64),), {"order": 3}, "order=3"),
        ((torch.ones(3, dtype=torch.float64),), {"dtypes": ["float8"]}, "unknown dtypes"),
    ],
)
def test_mistakes_are_one_sentence(args, kw, text):
    with pytest.raises(UsageError, match=text):
        harness.check(right, *args, **kw)


def _blocks(kind):
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(), re.S)


def test_the_docs_run_as_written(tmp_path):
    for name, code in re.findall(r"```python (\S+\.py)\n(.*?)```", DOC.read_text(), re.S):
        (tmp_path / name).write_text(code)
    runs = {}
    for command in _blocks("sh"):
        argv = [sys.executable, *command.split()[1:]]
        runs[command.split()[3]] = subprocess.run(
            argv, cwd=tmp_path, capture_output=True, text=True, timeout=600
        )
    wrong_run = runs["test_square_wrong.py"]
    assert wrong_run.returncode == 1 and "CheckError" in wrong_run.stdout
    shown = _blocks("text")[1].splitlines()
    assert shown[0] in wrong_run.stdout
    assert shown[1].strip() in wrong_run.stdout
    for good in ("test_square.py", "test_scale_jax.py"):
        assert runs[good].returncode == 0, runs[good].stdout + runs[good].stderr


def _wrong_tanh_backward(monkeypatch):
    """torch's namespace with one wrong op: tanh through a custom autograd Function whose
    backward forgets the square (1 - y instead of 1 - y²)."""
    torch = pytest.importorskip("torch")
    from harness.backends import torch_backend

    class WrongTanh(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = torch.tanh(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * (1 - y)

    init = torch_backend.TorchNamespace.__init__

    def patched(self, *a, **kw):
        init(self, *a, **kw)
        self.tanh = WrongTanh.apply

    monkeypatch.setattr(torch_backend.TorchNamespace, "__init__", patched)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_failing_xp_function_names_the_op_whose_own_check_fails(monkeypatch, dtype):
    _wrong_tanh_backward(monkeypatch)

    def layer(xp, w, x):
        return xp.sum(xp.exp(xp.tanh(w @ x) * 0.5) + xp.sin(x)[0])

    rng = np.random.default_rng(0)
    w, x = (rng.standard_normal(shape).astype(dtype) for shape in ((3, 2), (2,)))
    with pytest.raises(harness.CheckError) as err:
        harness.check(layer, w, x, xp=True, order=1)
    text = str(err.value)
    assert f"likely op: tanh (its own check fails: torch grad {dtype}" in text, text
    for op in ("matmul", "exp", "sin", "sum"):  # each passes on its own
        assert op in text.split("the other ops (")[1].split(")")[0]


def test_a_lost_product_rule_is_named_on_the_op_that_loses_it(monkeypatch):
    torch = pytest.importorskip("torch")
    from harness.backends import torch_backend

    init = torch_backend.TorchNamespace.__init__

    def patched(self, *a, **kw):  # torch sees x * y as x * y.detach(): a product rule lost
        init(self, *a, **kw)
        self.multiply = lambda a, b: torch.mul(a, b.detach() if torch.is_tensor(b) else b)

    monkeypatch.setattr(torch_backend.TorchNamespace, "__init__", patched)
    result = harness.check(lambda xp, x: xp.sum(xp.multiply(xp.sin(x), xp.cos(x))),
                           np.array([0.3, -0.8, 1.1]), xp=True, order=1,
                           raise_on_fail=False)  # fmt: skip
    assert not result.ok
    assert "multiply (its own check fails: torch" in result.likely_op, result.likely_op


def test_when_every_op_passes_alone_no_op_is_named():
    from types import SimpleNamespace

    from harness.check.bind import bind
    from harness.check.ops import likely_op

    bound = bind(lambda xp, x: xp.sum(xp.exp(x) * x), [np.array([0.5, -0.2])], "xp")
    failing = pd.DataFrame({"backend": ["torch"], "blame": ["torch"]})
    checked = []

    def alone(fn, values):
        checked.append(fn.__name__)
        return SimpleNamespace(failures=failing.iloc[:0])

    text = likely_op(bound, failing, alone)
    assert checked == ["exp", "multiply", "sum"]
    assert text.startswith("likely op: none found: each of the 3 ops") and "combine" in text
