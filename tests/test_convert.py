"""Tests of lstmfast.convert: exact round trips, and each convention's own equations."""

from __future__ import annotations

import re

import numpy as np
import pytest

import lstmfast
from lstmfast import convert
from lstmfast import reference as ref

T, B, I, H = 4, 3, 2, 5


def lstm_params(rng, bias=True, zero_b_hh=False, dtype=np.float64):
    p = {
        "w_ih": rng.standard_normal((4 * H, I)),
        "w_hh": 0.5 * rng.standard_normal((4 * H, H)),
        "b_ih": rng.standard_normal(4 * H) if bias else None,
        "b_hh": (np.zeros(4 * H) if zero_b_hh else rng.standard_normal(4 * H)) if bias else None,
    }
    return {k: None if v is None else v.astype(dtype) for k, v in p.items()}


def gru_params(rng, bias=True):
    return {
        "w_ih": rng.standard_normal((3 * H, I)),
        "w_hh": 0.5 * rng.standard_normal((3 * H, H)),
        "b_ih": rng.standard_normal(3 * H) if bias else None,
        "b_hh": rng.standard_normal(3 * H) if bias else None,
    }


def rnn_params(rng, bias=True):
    return {
        "w_ih": rng.standard_normal((H, I)),
        "w_hh": 0.5 * rng.standard_normal((H, H)),
        "b_ih": rng.standard_normal(H) if bias else None,
        "b_hh": rng.standard_normal(H) if bias else None,
    }


def assert_same(a: dict, b: dict) -> None:
    """Same keys; arrays identical in shape, dtype and value (None matches None)."""
    assert set(a) == set(b)
    for k in a:
        if a[k] is None or b[k] is None:
            assert a[k] is None and b[k] is None, k
        else:
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def assert_no_sharing(outputs: dict, inputs: dict) -> None:
    for out in outputs.values():
        for inp in inputs.values():
            if out is not None and isinstance(inp, np.ndarray):
                assert not np.shares_memory(out, inp)


def sig(z):
    return 1 / (1 + np.exp(-z))


def ours(params, x, h0, c0):
    y, h_n, c_n, _ = ref.lstm_forward(x, params["w_ih"], params["w_hh"], params["b_ih"], params["b_hh"], h0, c0)
    return y, h_n, c_n


# ---------------------------------------------------------------- PyTorch


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("make", [lstm_params, gru_params, rnn_params])
def test_torch_state_dict_round_trip(make, bias):
    p = make(np.random.default_rng(0), bias)
    sd = convert.to_torch_state_dict(p, layer=1)
    assert set(sd) == (
        {"weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"} if bias else {"weight_ih_l1", "weight_hh_l1"}
    )
    back = convert.from_torch_state_dict(sd, layer=1)
    assert_same(back, p)
    assert_no_sharing(sd, p)
    assert_no_sharing(back, sd)


def test_torch_state_dict_with_real_tensors():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for dtype in (torch.float32, torch.float64):
        module = torch.nn.LSTM(I, H, num_layers=2, dtype=dtype)
        sd = module.state_dict()
        p = convert.from_torch_state_dict(sd, layer=1)
        assert p["w_hh"].dtype == (np.float32 if dtype == torch.float32 else np.float64)
        np.testing.assert_array_equal(p["w_hh"], sd["weight_hh_l1"].numpy())
        back = convert.to_torch_state_dict(p, layer=1, tensors=True)
        for k, v in back.items():
            assert isinstance(v, torch.Tensor) and torch.equal(v, sd[k])

    module = torch.nn.LSTM(I, H, dtype=torch.float64)
    p = lstm_params(rng)
    module.load_state_dict(convert.to_torch_state_dict(p, tensors=True))  # strict: keys right
    x, h0, c0 = rng.standard_normal((T, B, I)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    with torch.no_grad():
        out, (hn, cn) = module(torch.from_numpy(x), (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None]))
    y, h_n, c_n = ours(p, x, h0, c0)
    assert np.max(np.abs(out.numpy() - y)) < 1e-12 and np.max(np.abs(cn[0].numpy() - c_n)) < 1e-12

    rnn = torch.nn.RNN(I, H, bias=False, dtype=torch.float64)
    p = convert.from_torch_state_dict(rnn.state_dict())
    assert p["b_ih"] is None and p["w_hh"].shape == (H, H)


@pytest.mark.parametrize("make,cell", [(lstm_params, "lstm"), (gru_params, "gru"), (rnn_params, "rnn")])
def test_torch_state_dict_reverse_direction_and_explicit_cell(make, cell):
    p = make(np.random.default_rng(9))
    sd = convert.to_torch_state_dict(p, layer=2, reverse=True, cell=cell)
    assert set(sd) == {"weight_ih_l2_reverse", "weight_hh_l2_reverse", "bias_ih_l2_reverse", "bias_hh_l2_reverse"}
    assert_same(convert.from_torch_state_dict(sd, layer=2, reverse=True, cell=cell), p)
    assert_same(convert.from_torch_state_dict(sd, layer=2, reverse=True), p)  # cell read from shapes
    with pytest.raises(ValueError, match=re.escape("sd: no entry 'weight_ih_l2'")):
        convert.from_torch_state_dict(sd, layer=2)
    other = "rnn" if cell != "rnn" else "gru"
    with pytest.raises(ValueError, match="w_hh: expected shape"):
        convert.to_torch_state_dict(p, cell=other)


def test_torch_gru_state_dicts_and_outputs():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    module = torch.nn.GRU(I, H, bidirectional=True, dtype=torch.float64)
    sd = module.state_dict()
    for reverse in (False, True):
        p = convert.from_torch_state_dict(sd, reverse=reverse)
        back = convert.to_torch_state_dict(p, reverse=reverse, tensors=True)
        for k, v in back.items():
            assert torch.equal(v, sd[k]), k

    module = torch.nn.GRU(I, H, dtype=torch.float64)
    p = gru_params(rng)
    module.load_state_dict(convert.to_torch_state_dict(p, tensors=True))  # strict: keys right
    x, h0 = rng.standard_normal((T, B, I)), rng.standard_normal((B, H))
    with torch.no_grad():
        out, hn = module(torch.from_numpy(x), torch.from_numpy(h0)[None])
    y, h_n, _ = ref.gru_forward(x, p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], h0)
    assert np.max(np.abs(out.numpy() - y)) < 1e-12 and np.max(np.abs(hn[0].numpy() - h_n)) < 1e-12
    nobias = convert.from_torch_state_dict(torch.nn.GRU(I, H, bias=False).state_dict())
    assert nobias["b_ih"] is None and nobias["w_hh"].shape == (3 * H, H)


# ---------------------------------------------------------------- Keras


def keras_lstm(kernel, recurrent_kernel, bias, x_bti, h0, c0):
    """Keras's equations, batch-major: z = x kernel + h recurrent_kernel + bias, split i, f, c, o."""
    h, c = h0, c0
    ys = []
    n = recurrent_kernel.shape[0]
    for t in range(x_bti.shape[1]):
        z = x_bti[:, t] @ kernel + h @ recurrent_kernel + (0 if bias is None else bias)
        i, f, cc, o = z[:, :n], z[:, n : 2 * n], z[:, 2 * n : 3 * n], z[:, 3 * n :]
        c = sig(f) * c + sig(i) * np.tanh(cc)
        h = sig(o) * np.tanh(c)
        ys.append(h)
    return np.stack(ys, axis=1), h, c


@pytest.mark.parametrize("bias", [True, False])
def test_keras_matches_its_own_equations(bias):
    rng = np.random.default_rng(2)
    k = {
        "kernel": rng.standard_normal((I, 4 * H)),
        "recurrent_kernel": 0.5 * rng.standard_normal((H, 4 * H)),
        "bias": rng.standard_normal(4 * H) if bias else None,
    }
    x, h0, c0 = rng.standard_normal((T, B, I)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    p = convert.from_keras(k)
    ky, kh, kc = keras_lstm(k["kernel"], k["recurrent_kernel"], k["bias"], x.transpose(1, 0, 2), h0, c0)
    y, h_n, c_n = ours(p, x, h0, c0)
    assert np.max(np.abs(y - ky.transpose(1, 0, 2))) < 1e-12
    assert np.max(np.abs(h_n - kh)) < 1e-12 and np.max(np.abs(c_n - kc)) < 1e-12

    assert_same(convert.to_keras(p), k)  # Keras -> ours -> Keras is exact
    listed = [k["kernel"], k["recurrent_kernel"]] + ([k["bias"]] if bias else [])
    assert_same(convert.from_keras(listed), p)  # layer.get_weights() order
    assert_no_sharing(p, k)


def test_keras_round_trip_from_ours():
    rng = np.random.default_rng(3)
    p = lstm_params(rng, zero_b_hh=True)  # Keras has one bias: exact when b_hh is 0
    assert_same(convert.from_keras(convert.to_keras(p)), p)
    p2 = lstm_params(rng)  # otherwise the same function, with the biases summed
    back = convert.from_keras(convert.to_keras(p2))
    np.testing.assert_array_equal(back["b_ih"], p2["b_ih"] + p2["b_hh"])
    assert not back["b_hh"].any()
    p32 = lstm_params(rng, bias=False, dtype=np.float32)
    k32 = convert.to_keras(p32)
    assert k32["kernel"].dtype == np.float32 and k32["bias"] is None and k32["kernel"].flags.c_contiguous
    assert_same(convert.from_keras(k32), p32)


def keras_gru(kernel, recurrent_kernel, bias, x_bti, h0):
    """Keras's GRU with reset_after=True, batch-major: blocks z, r, h; bias rows [input; recurrent]."""
    n = recurrent_kernel.shape[0]
    b_in, b_rec = (np.zeros(3 * n), np.zeros(3 * n)) if bias is None else (bias[0], bias[1])
    h, ys = h0, []
    for t in range(x_bti.shape[1]):
        mx = x_bti[:, t] @ kernel + b_in
        mh = h @ recurrent_kernel + b_rec
        z = sig(mx[:, :n] + mh[:, :n])
        r = sig(mx[:, n : 2 * n] + mh[:, n : 2 * n])
        hh = np.tanh(mx[:, 2 * n :] + r * mh[:, 2 * n :])
        h = z * h + (1 - z) * hh
        ys.append(h)
    return np.stack(ys, axis=1), h


@pytest.mark.parametrize("bias", [True, False])
def test_keras_gru_matches_its_own_equations_and_round_trips(bias):
    rng = np.random.default_rng(11)
    k = {
        "kernel": rng.standard_normal((I, 3 * H)),
        "recurrent_kernel": 0.5 * rng.standard_normal((H, 3 * H)),
        "bias": rng.standard_normal((2, 3 * H)) if bias else None,
    }
    x, h0 = rng.standard_normal((T, B, I)), rng.standard_normal((B, H))
    p = convert.from_keras_gru(k)
    ky, kh = keras_gru(k["kernel"], k["recurrent_kernel"], k["bias"], x.transpose(1, 0, 2), h0)
    y, h_n, _ = ref.gru_forward(x, p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], h0)
    assert np.max(np.abs(y - ky.transpose(1, 0, 2))) < 1e-12
    assert np.max(np.abs(h_n - kh)) < 1e-12

    assert_same(convert.to_keras_gru(p), k)  # Keras -> ours -> Keras is exact
    listed = [k["kernel"], k["recurrent_kernel"]] + ([k["bias"]] if bias else [])
    assert_same(convert.from_keras_gru(listed), p)  # layer.get_weights() order
    assert_no_sharing(p, k)
    mine = gru_params(rng, bias)  # ours -> Keras -> ours is exact too: both biases survive
    assert_same(convert.from_keras_gru(convert.to_keras_gru(mine)), mine)
    k32 = convert.to_keras_gru({kk: None if v is None else v.astype(np.float32) for kk, v in mine.items()})
    assert k32["kernel"].dtype == np.float32 and k32["kernel"].flags.c_contiguous


def test_keras_gru_gate_order_and_one_missing_bias():
    rng = np.random.default_rng(12)
    p = gru_params(rng)
    k = convert.to_keras_gru(p)
    # Keras block z (columns 0:H) is our block z (rows H:2H), r is swapped with it, h = n stays.
    np.testing.assert_array_equal(k["kernel"][:, :H], p["w_ih"][H : 2 * H].T)
    np.testing.assert_array_equal(k["recurrent_kernel"][:, H : 2 * H], p["w_hh"][:H].T)
    np.testing.assert_array_equal(k["bias"][1, 2 * H :], p["b_hh"][2 * H :])
    k = convert.to_keras_gru({**p, "b_ih": None})
    assert k["bias"].shape == (2, 3 * H) and not k["bias"][0].any()


# ---------------------------------------------------------------- ONNX


def onnx_lstm(W, R, B, X, h0, c0):
    """ONNX LSTM equations (default activations, no peepholes), gate blocks i, o, f, c."""
    n = R.shape[-1]
    Wi, Wo, Wf, Wc = np.split(W[0], 4)
    Ri, Ro, Rf, Rc = np.split(R[0], 4)
    Wb, Rb = np.split(B[0], 2) if B is not None else (np.zeros(4 * n), np.zeros(4 * n))
    Wbi, Wbo, Wbf, Wbc = np.split(Wb, 4)
    Rbi, Rbo, Rbf, Rbc = np.split(Rb, 4)
    Ht, Ct, Y = h0, c0, []
    for Xt in X:
        it = sig(Xt @ Wi.T + Ht @ Ri.T + Wbi + Rbi)
        ft = sig(Xt @ Wf.T + Ht @ Rf.T + Wbf + Rbf)
        ct = np.tanh(Xt @ Wc.T + Ht @ Rc.T + Wbc + Rbc)
        Ct = ft * Ct + it * ct
        ot = sig(Xt @ Wo.T + Ht @ Ro.T + Wbo + Rbo)
        Ht = ot * np.tanh(Ct)
        Y.append(Ht)
    return np.stack(Y), Ht, Ct


@pytest.mark.parametrize("bias", [True, False])
def test_onnx_matches_its_own_equations_and_round_trips(bias):
    rng = np.random.default_rng(4)
    o = {
        "W": rng.standard_normal((1, 4 * H, I)),
        "R": 0.5 * rng.standard_normal((1, 4 * H, H)),
        "B": rng.standard_normal((1, 8 * H)) if bias else None,
    }
    X, h0, c0 = rng.standard_normal((T, B, I)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    p = convert.from_onnx(**o)
    oy, oh, oc = onnx_lstm(o["W"], o["R"], o["B"], X, h0, c0)
    y, h_n, c_n = ours(p, X, h0, c0)
    assert np.max(np.abs(y - oy)) < 1e-12
    assert np.max(np.abs(h_n - oh)) < 1e-12 and np.max(np.abs(c_n - oc)) < 1e-12
    assert_same(convert.to_onnx(p), o)
    assert_same(convert.from_onnx(*convert.to_onnx(p).values()), p)
    assert_no_sharing(p, o)


def test_onnx_with_one_bias_missing():
    p = lstm_params(np.random.default_rng(5))
    p["b_hh"] = None
    o = convert.to_onnx(p)
    np.testing.assert_array_equal(o["B"][0, 4 * H :], 0)
    back = convert.from_onnx(**o)
    np.testing.assert_array_equal(back["b_ih"], p["b_ih"])


# ---------------------------------------------------------------- course


def course_lstm(params, x_ibt, a0, c0):
    """Course column-vector form: x (I, B, T), a (H, B), each gate W on [a<t-1>; x<t>]."""
    a, c, ys = a0, c0, []
    for t in range(x_ibt.shape[2]):
        concat = np.concatenate([a, x_ibt[:, :, t]], axis=0)  # (H + I, B)
        gate_f = sig(params["Wf"] @ concat + params["bf"])
        gate_u = sig(params["Wi"] @ concat + params["bi"])
        c_tilde = np.tanh(params["Wc"] @ concat + params["bc"])
        gate_o = sig(params["Wo"] @ concat + params["bo"])
        c = gate_f * c + gate_u * c_tilde
        a = gate_o * np.tanh(c)
        ys.append(a)
    return np.stack(ys, axis=2), a, c


def test_course_lstm_matches_its_own_equations_and_round_trips():
    rng = np.random.default_rng(6)
    course = {}
    for g in ("f", "i", "c", "o"):
        course["W" + g] = 0.5 * rng.standard_normal((H, H + I))
        course["b" + g] = rng.standard_normal((H, 1))
    x, h0, c0 = rng.standard_normal((T, B, I)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    p = convert.from_course_lstm({**course, "Wy": np.zeros((1, H)), "by": np.zeros((1, 1))})
    cy, ca, cc = course_lstm(course, x.transpose(2, 1, 0), h0.T, c0.T)
    y, h_n, c_n = ours(p, x, h0, c0)
    assert np.max(np.abs(y - cy.transpose(2, 1, 0))) < 1e-12
    assert np.max(np.abs(h_n - ca.T)) < 1e-12 and np.max(np.abs(c_n - cc.T)) < 1e-12
    assert_same(convert.to_course_lstm(p), course)
    assert_no_sharing(p, course)

    mine = lstm_params(rng, zero_b_hh=True)
    assert_same(convert.from_course_lstm(convert.to_course_lstm(mine)), mine)
    flat = {k: (v[:, 0] if k.startswith("b") else v) for k, v in course.items()}  # (H,) biases too
    assert_same(convert.from_course_lstm(flat), p)
    no_bias = convert.to_course_lstm(lstm_params(rng, bias=False))
    assert no_bias["bf"].shape == (H, 1) and not no_bias["bf"].any()


def test_course_rnn_matches_its_own_equations_and_round_trips():
    rng = np.random.default_rng(7)
    course = {
        "Wax": rng.standard_normal((H, I)),
        "Waa": 0.5 * rng.standard_normal((H, H)),
        "ba": rng.standard_normal((H, 1)),
    }
    x, h0 = rng.standard_normal((T, B, I)), rng.standard_normal((B, H))
    p = convert.from_course_rnn(course)
    a, ys = h0.T, []
    for t in range(T):  # a<t> = tanh(Waa a<t-1> + Wax x<t> + ba), columns are examples
        a = np.tanh(course["Waa"] @ a + course["Wax"] @ x[t].T + course["ba"])
        ys.append(a.T)
    y, h_n, _ = ref.rnn_forward(x, p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"], h0)
    assert np.max(np.abs(y - np.stack(ys))) < 1e-12
    assert_same(convert.to_course_rnn(p), course)
    mine = rnn_params(rng)
    mine["b_hh"] = np.zeros(H)
    assert_same(convert.from_course_rnn(convert.to_course_rnn(mine)), mine)


# ---------------------------------------------------------------- errors


def test_errors():
    rng = np.random.default_rng(8)
    p = lstm_params(rng)

    def raises(exc, msg):
        return pytest.raises(exc, match=re.escape(msg))

    with raises(
        ValueError,
        "params: expected keys ('w_ih', 'w_hh', 'b_ih', 'b_hh', 'peepholes') (biases and peepholes optional); "
        "missing ['w_hh'], unknown ['bias']",
    ):
        convert.to_keras({"w_ih": p["w_ih"], "bias": p["b_ih"]})
    with raises(TypeError, "params: expected a dict, or a list of two"):
        convert.to_onnx([p["w_ih"], p["w_hh"]])
    with raises(ValueError, "w_ih: expected shape (4*H, I) = (20, 2), got (21, 2)"):
        convert.to_onnx({**p, "w_ih": np.zeros((4 * H + 1, I))})
    with raises(ValueError, "b_hh: expected shape (4*H,) = (20,), got (5,)"):
        convert.to_torch_state_dict({**p, "b_hh": np.zeros(H)})
    with raises(ValueError, "w_hh: expected shape (H, H) = (5, 5), got (20, 5)"):
        convert.to_course_rnn(p)
    with raises(TypeError, "w_hh: dtype float32 does not match w_ih's dtype float64"):
        convert.to_keras({**p, "w_hh": p["w_hh"].astype(np.float32)})
    with raises(ValueError, "sd: no entry 'weight_ih_l2'"):
        convert.from_torch_state_dict(convert.to_torch_state_dict(p), layer=2)
    with raises(ValueError, "recurrent_kernel: expected shape (H, 4*H) = (5, 20), got (5, 16)"):
        convert.from_keras([np.zeros((I, 16)), np.zeros((H, 16))])
    with raises(ValueError, "kernel: expected shape (I, 4*H) = (2, 20), got (2, 16)"):
        convert.from_keras({"kernel": np.zeros((I, 16)), "recurrent_kernel": np.zeros((H, 4 * H))})
    with raises(ValueError, "bias: expected shape (4*H,) = (20,), got (8,)"):
        convert.from_keras([np.zeros((I, 4 * H)), np.zeros((H, 4 * H)), np.zeros(8)])
    with raises(TypeError, "weights: expected a dict or the list"):
        convert.from_keras([np.zeros((I, 4 * H))])
    with raises(ValueError, "W: expected a 3-D array (num_directions, G, I) with 1 or 2 directions"):
        convert.from_onnx(np.zeros((3, 4 * H, I)), np.zeros((3, 4 * H, H)))
    with raises(ValueError, "direction: expected 0 <= direction <= num_directions - 1 = 0, got 1"):
        convert.from_onnx(np.zeros((1, 4 * H, I)), np.zeros((1, 4 * H, H)), direction=1)
    with raises(ValueError, "R: expected shape (D, 4*H, H) = (1, 20, 5), got (1, 16, 5)"):
        convert.from_onnx(np.zeros((1, 4 * H, I)), np.zeros((1, 16, H)))
    with raises(ValueError, "B: expected shape (D, 2*4*H) = (1, 40), got (1, 20)"):
        convert.from_onnx(np.zeros((1, 4 * H, I)), np.zeros((1, 4 * H, H)), np.zeros((1, 4 * H)))
    course = convert.to_course_lstm(p)
    with raises(ValueError, "course: missing keys ['bo']"):
        convert.from_course_lstm({k: v for k, v in course.items() if k != "bo"})
    with raises(ValueError, "Wc: expected shape (H, H + I) = (5, 7), got (5, 8)"):
        convert.from_course_lstm({**course, "Wc": np.zeros((H, H + I + 1))})
    with raises(ValueError, "bi: expected shape (H, 1) = (5, 1), got (1, 5)"):
        convert.from_course_lstm({**course, "bi": np.zeros((1, H))})
    g = gru_params(rng)
    with raises(ValueError, "bias: shape (15,) is that of a Keras GRU with reset_after=False"):
        convert.from_keras_gru([np.zeros((I, 3 * H)), np.zeros((H, 3 * H)), np.zeros(3 * H)])
    with raises(ValueError, "bias: expected shape (2, 3*H) = (2, 15), got (2, 12)"):
        convert.from_keras_gru([np.zeros((I, 3 * H)), np.zeros((H, 3 * H)), np.zeros((2, 12))])
    with raises(ValueError, "recurrent_kernel: expected shape (H, 3*H) = (5, 15), got (5, 20)"):
        convert.from_keras_gru({"kernel": np.zeros((I, 4 * H)), "recurrent_kernel": np.zeros((H, 4 * H))})
    with raises(ValueError, "kernel: expected shape (I, 3*H) = (2, 15), got (2, 20)"):
        convert.from_keras_gru([np.zeros((I, 4 * H)), np.zeros((H, 3 * H))])
    with raises(ValueError, "w_hh: expected shape (3*H, H) = (15, 5), got (20, 5)"):
        convert.to_keras_gru(p)
    with raises(ValueError, "w_ih: expected shape (4*H, I) = (20, 2), got (15, 2)"):
        convert.to_keras({**p, "w_ih": g["w_ih"]})
    with raises(ValueError, "cell: expected one of ('lstm', 'gru', 'rnn') or None, got 'GRU'"):
        convert.to_torch_state_dict(g, cell="GRU")
    with raises(ValueError, "w_ih: expected shape (3*H, I) = (15, 2), got (20, 2)"):
        convert.to_torch_state_dict({**g, "w_ih": p["w_ih"]})
    with raises(ValueError, "Wax: expected shape (H, I) = (5, 2), got (4, 2)"):
        convert.from_course_rnn({"Wax": np.zeros((H - 1, I)), "Waa": np.zeros((H, H)), "ba": np.zeros((H, 1))})


def test_keras_weights_load_into_layers_directly():
    """load_state_dict(convert.from_keras...(layer.get_weights())) in one call, and the
    layer then computes Keras' recurrence (written out here from Keras' definitions)."""
    rng = np.random.default_rng(11)
    T, B, I, H = 5, 3, 2, 4
    x = rng.normal(size=(T, B, I))

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    # SimpleRNN: h = tanh(x kernel + h recurrent_kernel + bias)
    kernel, recurrent, bias = rng.normal(size=(I, H)), rng.normal(size=(H, H)) * 0.5, rng.normal(size=H)
    rnn = lstmfast.RNN(I, H, dtype=np.float64)
    rnn.load_state_dict(convert.from_keras_rnn([kernel, recurrent, bias]))
    h = np.zeros((B, H))
    for t in range(T):
        h = np.tanh(x[t] @ kernel + h @ recurrent + bias)
    np.testing.assert_allclose(rnn(x)[1][0], h, rtol=1e-12)
    np.testing.assert_allclose(
        convert.to_keras_rnn(convert.from_keras_rnn([kernel, recurrent, bias]))["kernel"], kernel
    )

    # LSTM: gates i, f, c, o in kernel's columns
    kernel, recurrent, bias = rng.normal(size=(I, 4 * H)), rng.normal(size=(H, 4 * H)) * 0.5, rng.normal(size=4 * H)
    lstm = lstmfast.LSTM(I, H, dtype=np.float64)
    lstm.load_state_dict(convert.from_keras([kernel, recurrent, bias]))
    h, c = np.zeros((B, H)), np.zeros((B, H))
    for t in range(T):
        z = x[t] @ kernel + h @ recurrent + bias
        i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H : 2 * H]), np.tanh(z[:, 2 * H : 3 * H]), sigmoid(z[:, 3 * H :])
        c = f * c + i * g
        h = o * np.tanh(c)
    np.testing.assert_allclose(lstm(x)[1][0][0], h, rtol=1e-12)

    # GRU (reset_after=True): z, r, h blocks; bias (2, 3H) = [input; recurrent]
    kernel, recurrent, bias = (
        rng.normal(size=(I, 3 * H)),
        rng.normal(size=(H, 3 * H)) * 0.5,
        rng.normal(size=(2, 3 * H)),
    )
    gru = lstmfast.GRU(I, H, dtype=np.float64)
    gru.load_state_dict(convert.from_keras_gru([kernel, recurrent, bias]))
    h = np.zeros((B, H))
    for t in range(T):
        xz, hz = x[t] @ kernel + bias[0], h @ recurrent + bias[1]
        zg, rg = sigmoid(xz[:, :H] + hz[:, :H]), sigmoid(xz[:, H : 2 * H] + hz[:, H : 2 * H])
        hh = np.tanh(xz[:, 2 * H :] + rg * hz[:, 2 * H :])
        h = zg * h + (1 - zg) * hh
    np.testing.assert_allclose(gru(x)[1][0], h, rtol=1e-12)

    cell = lstmfast.GRUCell(I, H, dtype=np.float64)
    cell.load_state_dict(convert.from_keras_gru([kernel, recurrent, bias]))  # cells take them too
    with pytest.raises(ValueError, match="describe one layer and direction"):
        lstmfast.GRU(I, H, num_layers=2).load_state_dict(convert.from_keras_gru([kernel, recurrent, bias]))
