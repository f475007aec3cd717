"""The one dtype rule, at every entry point (README: "Dtypes").

* Objects with a dtype of their own (layers, cells, SequenceModel, the
  scikit-learn estimators) convert real inputs to it: booleans, integers and
  floats of any width (float16, bfloat16, float32, float64); they refuse complex
  numbers, datetimes, strings and Python objects with a TypeError naming the
  argument.
* The functions (lstmfast.functional, lstmfast.reference) compute in the dtype of
  their arrays, which must be float32 or float64, all the same: anything else is a
  TypeError that names the argument and the dtype, never a silent conversion.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import lstmfast
from lstmfast import reference
from lstmfast.training import SequenceModel

ml_dtypes = pytest.importorskip("ml_dtypes")

T, B, I, H = 4, 3, 2, 5
BASE = np.random.default_rng(0).normal(size=(T, B, I))
CONVERTED = {
    "float16": BASE.astype(np.float16),
    "bfloat16": BASE.astype(ml_dtypes.bfloat16),
    "int32": (BASE * 3).astype(np.int32),
    "uint8": (np.abs(BASE) * 3).astype(np.uint8),
    "bool": BASE > 0,
    "float64": BASE,
}
REFUSED = {
    "complex128": BASE.astype(np.complex128),
    "datetime64": np.zeros((T, B, I), "datetime64[s]"),
    "str": np.full((T, B, I), "a"),
    "object": BASE.astype(object),
}


@pytest.mark.parametrize("name", list(CONVERTED))
@pytest.mark.parametrize("cls", [lstmfast.LSTM, lstmfast.GRU, lstmfast.RNN])
def test_layers_convert_real_inputs_to_their_dtype(cls, name):
    layer = cls(I, H, seed=0)  # float32
    x = CONVERTED[name]
    y, _ = layer(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, layer(np.asarray(x).astype(np.float32))[0])  # the same as converting first


@pytest.mark.parametrize("name", list(REFUSED))
def test_layers_cells_and_models_refuse_the_rest_by_name(name):
    x = REFUSED[name]
    pattern = "x: expected real numbers or booleans, got dtype " + re.escape(str(x.dtype))
    with pytest.raises(TypeError, match=pattern):
        lstmfast.LSTM(I, H)(x)
    with pytest.raises(TypeError, match=pattern):
        lstmfast.GRUCell(I, H)(x[0])
    with pytest.raises(TypeError, match=pattern.replace("x:", "X:")):
        SequenceModel(I, H).predict(x)
    with pytest.raises(TypeError, match=r"state: h0: expected real numbers"):
        lstmfast.GRU(I, H)(BASE, np.zeros((1, B, H)).astype(x.dtype))


@pytest.mark.parametrize("name", list(CONVERTED))
def test_models_and_cells_convert_too(name):
    x = CONVERTED[name]
    model = SequenceModel(I, H, output="last", task="regression", seed=0)
    assert model.predict(x).dtype == np.float32
    np.testing.assert_array_equal(model.predict(x), model.predict(np.asarray(x).astype(np.float32)))
    model.fit(x, np.ones(B), progress=False)  # trains on it
    cell = lstmfast.LSTMCell(I, H, seed=0)
    h, c = cell(x[0])
    assert h.dtype == c.dtype == np.float32


@pytest.mark.parametrize("name", [n for n in CONVERTED if n != "float64"] + list(REFUSED))
@pytest.mark.parametrize("module", [lstmfast, reference], ids=["fast", "reference"])
def test_functions_compute_in_float32_or_float64_only(module, name):
    x = {**CONVERTED, **REFUSED}[name]
    w_ih, w_hh = np.zeros((4 * H, I)), np.zeros((4 * H, H))
    dtype = re.escape(str(np.asarray(x).dtype))
    with pytest.raises(TypeError, match=rf"x: unsupported dtype {dtype}; expected float32 or float64"):
        module.lstm_forward(x, w_ih, w_hh, None, None)
    with pytest.raises(TypeError, match="w_hh: dtype float32 does not match x's dtype float64"):
        module.lstm_forward(BASE, w_ih, w_hh.astype(np.float32), None, None)


def test_torch_tensors_of_any_float_width_are_inputs_too():
    torch = pytest.importorskip("torch")
    layer = lstmfast.LSTM(I, H, seed=0)
    for dtype in (torch.float16, torch.bfloat16, torch.float64, torch.int64):
        x = torch.tensor(BASE).to(dtype)
        expected = layer(x.to(torch.float64).numpy().astype(np.float32))[0] if dtype != torch.bfloat16 else None
        y = layer(x)[0]
        assert y.dtype == np.float32
        if expected is not None:
            np.testing.assert_array_equal(y, expected)
