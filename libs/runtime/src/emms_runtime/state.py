"""Typed access to a service's domain state (``ServiceRuntime.state``) from a request.

``setup(rt)`` puts one object in ``rt.state`` (``ArchiveRuntime``, ``CollectorRuntime``…);
routes take it as a dependency::

    CollectorDep = Annotated[CollectorRuntime, Depends(state_dependency(CollectorRuntime))]

or call :func:`state_of` directly. Before ``setup`` has run (or if it put something else
there) the request is refused with 503 (:class:`~emms_runtime.errors.Unavailable`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from starlette.requests import Request

from emms_runtime.errors import Unavailable

T = TypeVar("T")


def state_of(request: Request, kind: type[T]) -> T:
    """The running service's domain state as ``kind``; 503 when it is not (yet) that."""
    rt = getattr(request.app.state, "runtime", None)
    state = getattr(rt, "state", None)
    if not isinstance(state, kind):
        name = rt.name if rt is not None else "service"
        raise Unavailable(f"the {name} runtime is not running")
    return state


def state_dependency(kind: type[T]) -> Callable[[Request], T]:
    """A FastAPI dependency returning :func:`state_of` ``(request, kind)``."""

    def dependency(request: Request) -> T:
        return state_of(request, kind)

    dependency.__name__ = f"state_of_{kind.__name__}"
    return dependency
