"""Teaching: the course notebook's functions, in its notation and signatures
(:mod:`.course`), checked against the package's fast path."""

from . import course

__all__ = ["course"]
