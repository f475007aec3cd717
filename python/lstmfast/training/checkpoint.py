"""The file format of :class:`~lstmfast.training.SequenceModel`: an ``.npz`` archive, no pickle.

The archive holds ``__format__`` ("lstmfast.SequenceModel"), ``__version__``
(:data:`FORMAT_VERSION`), ``__config__`` (the architecture as JSON, see
``SequenceModel.config``) and every parameter as ``param.<name>``.

:func:`load` trusts nothing in the file before it has checked it against the
rest: it reads the archive's directory and each array's header first, derives
every parameter's shape and dtype from the config, and only when the file
holds exactly those arrays (names, shapes, dtypes, and sizes that add up)
does it build the model and read the values, one array at a time. So a file
cannot make it allocate more than the model it describes and actually
contains, nor decompress more than its headers declare.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import zipfile
from typing import IO, TYPE_CHECKING, Any, Union

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
# A config is a short JSON object; anything longer is not one of ours.
_MAX_CONFIG_CHARS = 1 << 16
_MAX_HEADER_BYTES = 1 << 12  # of a .npy header: ours are about 128 bytes

PathLike = Union[str, "os.PathLike[str]"]


def save(model: SequenceModel, path: PathLike) -> pathlib.Path:
    """Write ``model`` to an ``.npz`` file; returns the path written (``.npz`` is
    appended to ``path`` if missing, as NumPy does). ``ValueError`` if a parameter
    holds NaN or infinity: such a model is broken, and :func:`load` refuses it."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
    params = model.parameters()
    for name, p in params.items():
        _checks.finite(f"model: {name}", p)
    target = pathlib.Path(path)
    if target.suffix != ".npz":
        target = target.with_name(target.name + ".npz")
    arrays = {
        _FORMAT_KEY: np.array(_FORMAT_NAME),
        _VERSION_KEY: np.array(FORMAT_VERSION, dtype=np.int64),
        _CONFIG_KEY: np.array(json.dumps(model.config, sort_keys=True)),
    }
    arrays.update({_PARAM_PREFIX + name: p for name, p in params.items()})
    np.savez(target, **arrays)  # type: ignore[arg-type]
    return target


def load(path: PathLike) -> SequenceModel:
    """Read a model written by :func:`save`.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        With a one-line message, if the path is not a regular file, the file is
        not a readable ``.npz`` (corrupt or truncated), is not an lstmfast model,
        has a missing or unsupported format version, an invalid config, missing
        or extra arrays, arrays of the wrong shape or dtype, sizes that do not add
        up, or parameters with NaN/Inf.
    """
    from .model import SequenceModel, parameter_shapes

    where = _checks.regular_file(path, "an lstmfast model file")
    try:
        archive = zipfile.ZipFile(where)  # reads the directory only
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        with open(where, "rb") as fid:
            if fid.read(6) == b"\x93NUMPY":
                raise ValueError(
                    f"{where}: not an lstmfast model file (a single .npy array, not an .npz archive)"
                ) from None
        raise ValueError(f"{where}: not a readable .npz file ({_one_line(err)})") from None
    with archive:
        members = _members(where, archive)
        if _FORMAT_KEY not in members or _read_scalar(where, archive, members[_FORMAT_KEY]) != _FORMAT_NAME:
            raise ValueError(f"{where}: not an lstmfast model file (no '{_FORMAT_KEY}' entry '{_FORMAT_NAME}')")
        if _VERSION_KEY not in members:
            raise ValueError(f"{where}: the lstmfast model file has no format version ('{_VERSION_KEY}')")
        version = _read_scalar(where, archive, members[_VERSION_KEY])
        if (
            isinstance(version, (bool, np.bool_))
            or not isinstance(version, (int, np.integer))
            or version != FORMAT_VERSION
        ):
            raise ValueError(
                f"{where}: format version {version!r} is not supported (this lstmfast reads version {FORMAT_VERSION})"
            )
        if _CONFIG_KEY not in members:
            raise ValueError(f"{where}: the lstmfast model file has no architecture config ('{_CONFIG_KEY}')")
        config = _read_config(where, archive, members[_CONFIG_KEY])
        try:
            expected = parameter_shapes(config)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: invalid architecture config ({_one_line(err)})") from None
        dtype = np.dtype(config["dtype"])

        params = {k[len(_PARAM_PREFIX) :]: v for k, v in members.items() if k.startswith(_PARAM_PREFIX)}
        other = sorted(
            k for k in members if not k.startswith(_PARAM_PREFIX) and k not in (_FORMAT_KEY, _VERSION_KEY, _CONFIG_KEY)
        )
        missing = sorted(set(expected) - set(params))
        extra = sorted(set(params) - set(expected)) + other
        if missing or extra:
            raise ValueError(
                f"{where}: the arrays do not match the config: missing {_listed(missing)}, unexpected {_listed(extra)}"
            )
        for name, info in params.items():  # every header, before anything is allocated
            with archive.open(info) as member:
                shape, fortran, stored = _header(where, name, member)
            if shape != expected[name]:
                raise ValueError(f"{where}: {name}: expected shape {expected[name]}, got {shape}")
            if stored != dtype:
                raise ValueError(f"{where}: {name}: expected dtype {dtype} (from the config), got {stored}")
            if info.file_size > _MAX_HEADER_BYTES + math.prod(shape) * dtype.itemsize:
                raise ValueError(
                    f"{where}: {name}: the archive declares {info.file_size} bytes for {math.prod(shape)} values"
                )

        model = SequenceModel(**config)  # the arrays are there: now allocate
        values = {}
        for name, info in params.items():
            values[name] = _read_array(where, archive, info, name)
            if not np.isfinite(values[name]).all():
                raise ValueError(f"{where}: {name}: contains NaN or infinite values")
    model.load_state_dict(values)
    return model


def _listed(names: list[str], most: int = 5) -> str:
    return str(names) if len(names) <= most else f"{names[:most]} ({len(names)} names in all)"


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def _members(where: str, archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The archive's arrays by name (``.npy`` members); anything else is refused."""
    members = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy") or info.is_dir():
            raise ValueError(f"{where}: not an lstmfast model file (the member {info.filename!r} is not an array)")
        members[info.filename[: -len(".npy")]] = info
    return members


def _header(where: str, name: str, member: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    """The shape, Fortran order and dtype in a .npy member's header (pickled objects refused)."""
    try:
        version = np.lib.format.read_magic(member)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(member, max_header_size=_MAX_HEADER_BYTES)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, SyntaxError) as err:
        raise ValueError(f"{where}: {name}: not a readable array ({_one_line(err)})") from None
    if dtype.hasobject:
        raise ValueError(
            f"{where}: not a readable .npz file ({name} holds pickled Python objects, which lstmfast never loads)"
        )
    return tuple(int(n) for n in shape), bool(fortran), dtype


def _read_array(where: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> np.ndarray[Any, Any]:
    try:
        with archive.open(info) as member:
            arr: np.ndarray[Any, Any] = np.lib.format.read_array(
                member, allow_pickle=False, max_header_size=_MAX_HEADER_BYTES
            )
            return arr
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, RuntimeError) as err:
        raise ValueError(f"{where}: {name}: not a readable array ({_one_line(err)})") from None


def _read_scalar(where: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Any:
    """The Python value of a small 0-d array member, or None for anything else."""
    name = info.filename
    with archive.open(info) as member:
        shape, _, dtype = _header(where, name, member)
    if shape != () or info.file_size > _MAX_HEADER_BYTES + 4 * _MAX_CONFIG_CHARS:
        return None
    return _read_array(where, archive, info, name).item()


def _read_config(where: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, Any]:
    text = _read_scalar(where, archive, info)
    if not isinstance(text, str):
        raise ValueError(
            f"{where}: invalid architecture config (not a JSON text of at most {_MAX_CONFIG_CHARS} characters)"
        )
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as err:  # RecursionError: absurdly nested JSON
        raise ValueError(f"{where}: invalid architecture config ({_one_line(err)})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{where}: invalid architecture config (expected a JSON object, got {type(config).__name__})")
    if set(config) != _CONFIG_KEYS:
        raise ValueError(
            f"{where}: invalid architecture config (expected the keys {sorted(_CONFIG_KEYS)}, got {sorted(config)})"
        )
    return config
