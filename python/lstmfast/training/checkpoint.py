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
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, Union

import numpy as np

from .. import _checks

if TYPE_CHECKING:
    from .model import SequenceModel
    from .optim import Optimizer

__all__ = ["FORMAT_VERSION", "load", "load_training", "save", "save_training"]

#: Version of the .npz layout written by :func:`save` (1: before ``loss``,
#: ``forget_bias`` and ``batch_first`` were in the config; 2: before
#: ``bidirectional``; both still read).
FORMAT_VERSION = 3
_FORMAT_NAME = "lstmfast.SequenceModel"
_FORMAT_KEY, _VERSION_KEY, _CONFIG_KEY, _PARAM_PREFIX = "__format__", "__version__", "__config__", "param."
_TRAINING_KEY, _OPTIM_PREFIX = "__training__", "optim."  # training checkpoints only
_CONFIG_KEYS = {1: {"input_size", "hidden_size", "output_size", "cell", "output", "task", "nonlinearity", "dtype"}}
_CONFIG_KEYS[2] = _CONFIG_KEYS[1] | {"loss", "forget_bias", "batch_first"}
_CONFIG_KEYS[3] = _CONFIG_KEYS[2] | {"bidirectional"}
# A config (or a training record) is a short JSON object; anything longer is not one of ours.
_MAX_CONFIG_CHARS = 1 << 16
_MAX_TRAINING_CHARS = 1 << 24  # the history of very many epochs
_MAX_HEADER_BYTES = 1 << 12  # of a .npy header: ours are about 128 bytes

PathLike = Union[str, "os.PathLike[str]"]


def save(model: SequenceModel, path: PathLike) -> pathlib.Path:
    """Write ``model`` to an ``.npz`` file; returns the path written (``.npz`` is
    appended to ``path`` if missing, as NumPy does). ``ValueError`` if a parameter
    holds NaN or infinity: such a model is broken, and :func:`load` refuses it."""
    return _write(model, path, {})


def save_training(
    model: SequenceModel,
    path: PathLike,
    *,
    epoch: int,
    optimizer: Mapping[str, Any],
    rng: Mapping[str, Any],
    history: Mapping[str, list[float]],
) -> pathlib.Path:
    """A training checkpoint: the model file of :func:`save` plus what resuming needs
    (``epoch``: epochs done; ``optimizer``: ``Optimizer.state_dict()``; ``rng``: the
    shuffling generator's ``bit_generator.state``; the ``history`` so far)."""
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for name, state in optimizer["state"].items():
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                arrays[f"{_OPTIM_PREFIX}{name}.{key}"] = value
            else:
                scalars.setdefault(name, {})[key] = value
    record = {
        "epoch": epoch,
        "optimizer": optimizer["optimizer"],
        "hyperparameters": optimizer["hyperparameters"],
        "scalars": scalars,
        "rng": rng,
        "history": {k: list(v) for k, v in history.items()},
    }
    arrays[_TRAINING_KEY] = np.array(json.dumps(record))
    return _write(model, path, arrays)


def _write(model: SequenceModel, path: PathLike, extra: dict[str, np.ndarray[Any, Any]]) -> pathlib.Path:
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
    arrays.update(extra)
    np.savez(target, **arrays)  # type: ignore[arg-type]
    return target


def load(path: PathLike) -> SequenceModel:
    """Read a model written by :func:`save` (or a training checkpoint's model).

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
    from .model import SequenceModel

    with _Archive(path) as archive:
        model = SequenceModel(**archive.config)  # the arrays are there (checked): now allocate
        model.load_state_dict(archive.parameters())
    return model


def load_training(path: PathLike, model: SequenceModel) -> dict[str, Any]:
    """Resume from a training checkpoint into ``model`` (which must have the
    checkpoint's architecture): load the parameters and return ``{"epoch", "optimizer"
    (a state dict), "rng" (a bit-generator state), "history"}``."""
    with _Archive(path) as a:
        if a.config != model.config:
            raise ValueError(f"{a.where}: the checkpoint is of a model {a.config}, not of this one {model.config}")
        if _TRAINING_KEY not in a.members:
            raise ValueError(f"{a.where}: a model file, not a training checkpoint (no '{_TRAINING_KEY}')")
        record = a.json(_TRAINING_KEY, _MAX_TRAINING_CHARS, "training record")
        try:
            epoch = _checks.integer("epoch", record["epoch"], 0)
            history = {str(k): [float(v) for v in vs] for k, vs in record["history"].items()}
            rng = np.random.default_rng().bit_generator
            rng.state = record["rng"]  # checks the state's form
            hyper, scalars = dict(record["hyperparameters"]), dict(record["scalars"])
            optimizer = str(record["optimizer"])
            optimizer_of({"optimizer": optimizer, "hyperparameters": hyper})  # checks them
            for name, values in scalars.items():
                for key, value in dict(values).items():
                    _checks.integer(f"{name}.{key}", value, 0)  # step counts
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"{a.where}: invalid training record ({_one_line(err)})") from None
        shapes = {name: p.shape for name, p in model.parameters().items()}
        state: dict[str, dict[str, Any]] = {name: dict(scalars.get(name, {})) for name in shapes if name in scalars}
        for member in a.members:
            if member.startswith(_OPTIM_PREFIX):
                name, _, key = member[len(_OPTIM_PREFIX) :].rpartition(".")
                if name not in shapes:
                    raise ValueError(f"{a.where}: {member}: no parameter named {name!r}")
                state.setdefault(name, {})[key] = a.array(member, shapes[name], model.dtype)
        model.load_state_dict(a.parameters())
    return {
        "epoch": epoch,
        "rng": record["rng"],
        "history": history,
        "optimizer": {"optimizer": optimizer, "hyperparameters": hyper, "state": state},
    }


class _Archive:
    """An lstmfast .npz file opened for reading, checked against itself on opening:
    format, version and config first, then the header (shape, dtype, declared
    size) of every parameter against the shapes the config implies. Arrays are
    read only when asked for."""

    def __init__(self, path: PathLike) -> None:
        from .model import parameter_shapes

        self.where = where = _checks.regular_file(path, "an lstmfast model file")
        try:
            self.zip = zipfile.ZipFile(where)  # reads the directory only
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
            with open(where, "rb") as fid:
                if fid.read(6) == b"\x93NUMPY":
                    raise ValueError(
                        f"{where}: not an lstmfast model file (a single .npy array, not an .npz archive)"
                    ) from None
            raise ValueError(f"{where}: not a readable .npz file ({_one_line(err)})") from None
        try:
            self.members = _members(where, self.zip)
            if _FORMAT_KEY not in self.members or self.scalar(_FORMAT_KEY) != _FORMAT_NAME:
                raise ValueError(f"{where}: not an lstmfast model file (no '{_FORMAT_KEY}' entry '{_FORMAT_NAME}')")
            if _VERSION_KEY not in self.members:
                raise ValueError(f"{where}: the lstmfast model file has no format version ('{_VERSION_KEY}')")
            version = self.scalar(_VERSION_KEY)
            if (
                isinstance(version, (bool, np.bool_))
                or not isinstance(version, (int, np.integer))
                or version not in _CONFIG_KEYS
            ):
                raise ValueError(
                    f"{where}: format version {version!r} is not supported (this lstmfast reads "
                    f"versions {sorted(_CONFIG_KEYS)})"
                )
            keys = _CONFIG_KEYS[int(version)]
            if _CONFIG_KEY not in self.members:
                raise ValueError(f"{where}: the lstmfast model file has no architecture config ('{_CONFIG_KEY}')")
            config = self.json(_CONFIG_KEY, _MAX_CONFIG_CHARS, "architecture config")
            if set(config) != keys:
                raise ValueError(
                    f"{where}: invalid architecture config (expected the keys {sorted(keys)}, got {sorted(config)})"
                )
            try:
                self.expected = parameter_shapes(config)
                self.config = architecture_of(config)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{where}: invalid architecture config ({_one_line(err)})") from None
            self.dtype = np.dtype(self.config["dtype"])
            self._check_parameters()
        except BaseException:
            self.zip.close()
            raise

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.zip.close()

    def _check_parameters(self) -> None:
        params = {k[len(_PARAM_PREFIX) :] for k in self.members if k.startswith(_PARAM_PREFIX)}
        other = sorted(
            k
            for k in self.members
            if not k.startswith((_PARAM_PREFIX, _OPTIM_PREFIX))
            and k not in (_FORMAT_KEY, _VERSION_KEY, _CONFIG_KEY, _TRAINING_KEY)
        )
        missing = sorted(set(self.expected) - params)
        extra = sorted(params - set(self.expected)) + other
        if missing or extra:
            raise ValueError(
                f"{self.where}: the arrays do not match the config: missing {_listed(missing)}, "
                f"unexpected {_listed(extra)}"
            )
        for name in self.expected:  # every header, in order, before anything is allocated
            self._check_header(_PARAM_PREFIX + name, self.expected[name], self.dtype)

    def _check_header(self, member: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        info = self.members[member]
        name = member.removeprefix(_PARAM_PREFIX)
        with self.zip.open(info) as stream:
            stored_shape, _, stored = _header(self.where, name, stream)
        if stored_shape != shape:
            raise ValueError(f"{self.where}: {name}: expected shape {shape}, got {stored_shape}")
        if stored != dtype:
            raise ValueError(f"{self.where}: {name}: expected dtype {dtype} (from the config), got {stored}")
        if info.file_size > _MAX_HEADER_BYTES + math.prod(shape) * dtype.itemsize:
            raise ValueError(
                f"{self.where}: {name}: the archive declares {info.file_size} bytes for {math.prod(shape)} values"
            )

    def array(self, member: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
        """A finite array of exactly ``shape`` and ``dtype``, checked before it is read."""
        self._check_header(member, shape, dtype)
        name = member.removeprefix(_PARAM_PREFIX)
        values = _read_array(self.where, self.zip, self.members[member], name)
        if not np.isfinite(values).all():
            raise ValueError(f"{self.where}: {name}: contains NaN or infinite values")
        return values

    def parameters(self) -> dict[str, np.ndarray[Any, Any]]:
        return {name: self.array(_PARAM_PREFIX + name, shape, self.dtype) for name, shape in self.expected.items()}

    def scalar(self, member: str) -> Any:
        return _read_scalar(self.where, self.zip, self.members[member])

    def json(self, member: str, limit: int, what: str) -> dict[str, Any]:
        info = self.members[member]
        with self.zip.open(info) as stream:
            shape, _, dtype = _header(self.where, member, stream)
        if shape != () or dtype.kind != "U" or info.file_size > _MAX_HEADER_BYTES + 4 * limit:
            raise ValueError(f"{self.where}: invalid {what} (not a JSON text of at most {limit} characters)")
        text = _read_array(self.where, self.zip, info, member).item()
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as err:  # RecursionError: absurdly nested JSON
            raise ValueError(f"{self.where}: invalid {what} ({_one_line(err)})") from None
        if not isinstance(value, dict):
            raise ValueError(f"{self.where}: invalid {what} (expected a JSON object, got {type(value).__name__})")
        return value


def optimizer_of(state: Mapping[str, Any]) -> Optimizer:
    """A new optimizer of the kind and hyperparameters of ``Optimizer.state_dict()``."""
    from . import optim

    kind = getattr(optim, str(state.get("optimizer")), None)
    if not (isinstance(kind, type) and issubclass(kind, optim.Optimizer)):
        raise ValueError(f"optimizer {state.get('optimizer')!r} is not one of lstmfast's")
    return kind(**state["hyperparameters"])


def architecture_of(config: Mapping[str, Any]) -> dict[str, Any]:
    from .model import architecture

    return architecture(**config)


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
