"""Fixtures shared with the runtime tests: the real two-service stack."""

from tests.runtime.conftest import stack

__all__ = ["stack"]
