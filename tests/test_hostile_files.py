"""Files built to hurt the loader and the command: each is refused with a one-line
``ValueError`` before anything large is allocated or decompressed, and nothing blocks.

The risky ones run in a child process under a 1 GiB address-space limit (so an
attempt to allocate what the file claims fails the test with a MemoryError
instead of swapping the machine) and a timeout (so a hang fails it too).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from lstmfast.training import SequenceModel
from lstmfast.training.checkpoint import FORMAT_VERSION

LIMIT = 1 << 30  # bytes of address space for the child


def run_limited(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    prologue = f"import resource\nresource.setrlimit(resource.RLIMIT_AS, ({LIMIT}, {LIMIT}))\n"
    return subprocess.run([sys.executable, "-c", prologue + code], capture_output=True, text=True, timeout=timeout)


def npy(value: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, np.asarray(value), allow_pickle=False)
    return out.getvalue()


def write_model_file(path: str, config: dict, params: dict[str, np.ndarray], *, members: dict | None = None) -> None:
    """An .npz laid out like SequenceModel.save's, with whatever config and arrays we like."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("__format__.npy", npy(np.array("lstmfast.SequenceModel")))
        z.writestr("__version__.npy", npy(np.array(FORMAT_VERSION, dtype=np.int64)))
        z.writestr("__config__.npy", npy(np.array(json.dumps(config))))
        for name, value in params.items():
            z.writestr(f"param.{name}.npy", npy(value))
        for name, raw in (members or {}).items():
            z.writestr(name, raw)


def small_model_file(tmp_path, **config_changes) -> str:
    model = SequenceModel(1, 4, seed=0)
    path = str(tmp_path / "model.npz")
    write_model_file(path, {**model.config, **config_changes}, model.parameters())
    return path


def load_in_child(path: str) -> subprocess.CompletedProcess[str]:
    return run_limited(
        "from lstmfast.training import SequenceModel\n"
        "try:\n"
        f"    SequenceModel.load({path!r})\n"
        "except ValueError as err:\n"
        "    print('refused:', err)\n"
    )


def assert_refused(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 0, result.stderr[-2000:]  # a MemoryError or a crash would land here
    assert result.stdout.startswith("refused:"), result.stdout
    assert result.stdout.count("\n") == 1  # one line
    for fragment in fragments:
        assert fragment in result.stdout


def test_a_huge_config_with_small_arrays_allocates_nothing(tmp_path):
    # hidden_size 23000 would need 4 * 23000 * 23001 float32 values (8.5 GB) before
    # the loader ever looked at the arrays, which are those of a hidden size of 4.
    assert_refused(
        load_in_child(small_model_file(tmp_path, hidden_size=[23000])),
        "lstm.weight_ih_l0: expected shape (92000, 1), got (16, 1)",
    )


def test_two_hundred_thousand_layers_in_a_tiny_file_are_refused_at_once(tmp_path):
    assert_refused(load_in_child(small_model_file(tmp_path, hidden_size=[4] * 200_000)), "invalid architecture config")
    result = load_in_child(small_model_file(tmp_path, hidden_size=[4] * 20_000))  # a config short enough to parse
    assert_refused(
        result, "the arrays do not match the config", "missing", "(79996 names in all)"
    )  # 4 of layer 0 are there
    assert len(result.stdout) < 600


def test_a_zip_bomb_member_is_never_decompressed(tmp_path):
    model = SequenceModel(1, 4, seed=0)
    params = dict(model.parameters())
    path = str(tmp_path / "bomb.npz")
    # 1.5 GB of zeros deflate to about 1.5 MB, after a header that gives the right shape
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("__format__.npy", npy(np.array("lstmfast.SequenceModel")))
        z.writestr("__version__.npy", npy(np.array(FORMAT_VERSION, dtype=np.int64)))
        z.writestr("__config__.npy", npy(np.array(json.dumps(model.config))))
        for name, value in params.items():
            if name != "head.weight":
                z.writestr(f"param.{name}.npy", npy(value))
        with z.open("param.head.weight.npy", "w", force_zip64=True) as member:
            member.write(npy(params["head.weight"])[:-16])  # a correct header, then far too much data
            zeros = bytes(1 << 20)
            for _ in range(1500):
                member.write(zeros)
    assert os.path.getsize(path) < 5e6  # small on disk
    assert_refused(load_in_child(path), "head.weight", "declares")


def test_a_shape_bomb_header_is_refused_before_reading(tmp_path):
    model = SequenceModel(1, 4, seed=0)
    params = {**model.parameters(), "head.weight": np.zeros((1, 400_000_000), np.uint8)[:, :1]}
    path = str(tmp_path / "shape.npz")
    write_model_file(path, model.config, params)
    assert_refused(load_in_child(path), "head.weight")


def test_deeply_nested_json_is_a_value_error(tmp_path):
    model = SequenceModel(1, 4, seed=0)
    path = str(tmp_path / "nested.npz")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("__format__.npy", npy(np.array("lstmfast.SequenceModel")))
        z.writestr("__version__.npy", npy(np.array(FORMAT_VERSION, dtype=np.int64)))
        z.writestr("__config__.npy", npy(np.array("[" * 20000 + "]" * 20000)))
        for name, value in model.parameters().items():
            z.writestr(f"param.{name}.npy", npy(value))
    with pytest.raises(ValueError, match="invalid architecture config"):
        SequenceModel.load(path)


def test_a_long_config_is_refused(tmp_path):
    path = small_model_file(tmp_path, cell="lstm" + " " * 100_000)
    with pytest.raises(ValueError, match="invalid architecture config"):
        SequenceModel.load(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_does_not_block(tmp_path):
    fifo = str(tmp_path / "pipe.npz")
    os.mkfifo(fifo)  # opening it for reading would wait forever for a writer
    assert_refused(load_in_child(fifo), "not a regular file")


def test_devices_are_not_read(tmp_path):
    assert_refused(load_in_child("/dev/zero"), "not a regular file")


def test_extra_members_and_pickles_are_refused(tmp_path):
    model = SequenceModel(1, 4, seed=0)
    path = str(tmp_path / "extra.npz")
    write_model_file(path, model.config, model.parameters(), members={"notes.txt": b"hello"})
    with pytest.raises(ValueError, match=r"'notes\.txt' is not an array"):
        SequenceModel.load(path)


def test_save_refuses_a_broken_model_load_would_refuse(tmp_path):
    model = SequenceModel(1, 4, seed=0)
    model.parameters()["head.bias"][0] = np.nan
    with pytest.raises(ValueError, match=r"head\.bias: contains 1 NaN"):
        model.save(tmp_path / "nan.npz")
    assert not (tmp_path / "nan.npz").exists()


# --------------------------------------------------------------------------- the command


@pytest.mark.parametrize(
    "argv,message",
    [
        (["forecast", "--csv", "/dev/zero"], "not a regular file"),
        (["forecast", "--hidden", "30000", "--epochs", "1"], "parameters (more than"),
        (["bench", "--threads", "5000"], "expected an int in [1, 1024], got 5000"),
    ],
)
def test_the_command_gives_one_line_and_exit_2(capsys, argv, message):
    from lstmfast.app.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err.strip() or err.startswith("usage:"), err  # argparse prints its usage line first
    assert message in err.splitlines()[-1]


def test_a_series_too_large_to_normalise_is_one_line(tmp_path, capsys):
    from lstmfast.app.cli import main

    path = tmp_path / "huge.csv"
    path.write_text("value\n" + "\n".join(str(1e300 * (1 + k % 7)) for k in range(80)))
    assert main(["forecast", "--csv", str(path), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "too large to normalise" in err


@pytest.mark.parametrize("cell", ["1_0", "0x10", "1e5e5", "infinity", "Infinity", "1,5"])
def test_csv_numbers_are_written_decimals_only(tmp_path, cell):
    from lstmfast.datasets.series import SeriesError, read_csv_series

    path = tmp_path / "s.csv"
    path.write_text("t;value\n" + "".join(f"{k};{cell if k == 3 else k}\n" for k in range(30)))
    with pytest.raises(SeriesError, match="line 5: column 'value' has a non-(numeric|finite) value"):
        read_csv_series(str(path), "value")
