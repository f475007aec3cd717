"""The file format of :class:`~lstmfast.training.SequenceModel`: an ``.npz`` archive, no pickle.

The archive holds ``__format__`` ("lstmfast.SequenceModel"), ``__version__``
(:data:`FORMAT_VERSION`), ``__config__`` (the architecture as JSON, see
``SequenceModel.config``) and every parameter as ``param.<name>``.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from .. import _checks

if TYPE_CHECKING:
    from .model import SequenceModel

__all__ = ["FORMAT_VERSION", "load", "save"]

#: Version of the .npz layout written by :func:`save`.
FORMAT_VERSION = 1
_FORMAT_NAME = "lstmfast.SequenceModel"
_FORMAT_KEY, _VERSION_KEY, _CONFIG_KEY, _PARAM_PREFIX = "__format__", "__version__", "__config__", "param."
_CONFIG_KEYS = {"input_size", "hidden_size", "output_size", "cell", "output", "task", "nonlinearity", "dtype"}

PathLike = Union[str, "os.PathLike[str]"]


def save(model: SequenceModel, path: PathLike) -> pathlib.Path:
    """Write ``model`` to an ``.npz`` file; returns the path written (``.npz`` is
    appended to ``path`` if missing, as NumPy does)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
    target = pathlib.Path(path)
    if target.suffix != ".npz":
        target = target.with_name(target.name + ".npz")
    arrays = {
        _FORMAT_KEY: np.array(_FORMAT_NAME),
        _VERSION_KEY: np.array(FORMAT_VERSION, dtype=np.int64),
        _CONFIG_KEY: np.array(json.dumps(model.config, sort_keys=True)),
    }
    arrays.update({_PARAM_PREFIX + name: p for name, p in model.parameters().items()})
    np.savez(target, **arrays)  # type: ignore[arg-type]
    return target


def load(path: PathLike) -> SequenceModel:
    """Read a model written by :func:`save`.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        With a one-line message, if the file is not a readable ``.npz``
        (corrupt or truncated), is not an lstmfast model, has a missing or
        unsupported format version, an invalid config, missing or extra arrays,
        or arrays of the wrong shape, dtype or with NaN/Inf.
    """
    from .model import SequenceModel

    where, raw = _checks.read_file(path, "an lstmfast model file")
    contents = _read_npz(where, raw)
    if _FORMAT_KEY not in contents or _scalar(contents[_FORMAT_KEY]) != _FORMAT_NAME:
        raise ValueError(f"{where}: not an lstmfast model file (no '{_FORMAT_KEY}' entry '{_FORMAT_NAME}')")
    if _VERSION_KEY not in contents:
        raise ValueError(f"{where}: the lstmfast model file has no format version ('{_VERSION_KEY}')")
    version = _scalar(contents[_VERSION_KEY])
    if isinstance(version, (bool, np.bool_)) or not isinstance(version, (int, np.integer)) or version != FORMAT_VERSION:
        raise ValueError(
            f"{where}: format version {version!r} is not supported (this lstmfast reads version {FORMAT_VERSION})"
        )
    if _CONFIG_KEY not in contents:
        raise ValueError(f"{where}: the lstmfast model file has no architecture config ('{_CONFIG_KEY}')")
    try:
        config = json.loads(_scalar(contents[_CONFIG_KEY]))
        if not isinstance(config, dict):
            raise ValueError(f"expected a JSON object, got {type(config).__name__}")
        if set(config) != _CONFIG_KEYS:
            raise ValueError(f"expected the keys {sorted(_CONFIG_KEYS)}, got {sorted(config)}")
        model = SequenceModel(**config)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: invalid architecture config ({_one_line(err)})") from None

    params = {k[len(_PARAM_PREFIX) :]: v for k, v in contents.items() if k.startswith(_PARAM_PREFIX)}
    other = sorted(
        k for k in contents if not k.startswith(_PARAM_PREFIX) and k not in (_FORMAT_KEY, _VERSION_KEY, _CONFIG_KEY)
    )
    own = model.parameters()
    missing = sorted(set(own) - set(params))
    extra = sorted(set(params) - set(own)) + other
    if missing or extra:
        raise ValueError(f"{where}: the arrays do not match the config: missing {missing}, unexpected {extra}")
    for name, value in params.items():
        if value.shape != own[name].shape:
            raise ValueError(f"{where}: {name}: expected shape {own[name].shape}, got {value.shape}")
        if value.dtype != model.dtype:
            raise ValueError(f"{where}: {name}: expected dtype {model.dtype} (from the config), got {value.dtype}")
        if not np.isfinite(value).all():
            raise ValueError(f"{where}: {name}: contains NaN or infinite values")
    model.load_state_dict(params)
    return model


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def _scalar(arr: Any) -> Any:
    """The Python value of a 0-d array, or None for anything else."""
    return arr.item() if isinstance(arr, np.ndarray) and arr.ndim == 0 else None


def _read_npz(where: str, raw: bytes) -> dict[str, np.ndarray[Any, Any]]:
    """Every array of the .npz file ``where`` whose bytes are ``raw``, read eagerly
    (so a corrupt member fails here)."""
    try:
        data = np.load(io.BytesIO(raw), allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                return {name: data[name] for name in data.files}
    except Exception as err:  # zipfile.BadZipFile, zlib.error, EOFError, pickled data, ...
        raise ValueError(f"{where}: not a readable .npz file ({_one_line(err)})") from None
    raise ValueError(f"{where}: not an lstmfast model file (a single .npy array, not an .npz archive)")
