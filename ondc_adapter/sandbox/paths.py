"""Tiny path language for scenario files: ``message.order.items[0].id`` (dots between keys,
``[n]`` for list indices; keys such as ``bpp/providers`` and ``@ondc/org/TAT`` need no quoting)."""

from __future__ import annotations

import itertools
import re
from typing import Any

_PART = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


class PathError(LookupError):
    pass


def split(path: str) -> list[str | int]:
    out: list[str | int] = []
    for key, index in _PART.findall(path):
        out.append(int(index) if index else key)
    if not out:
        raise PathError(f"empty path {path!r}")
    return out


def get(obj: Any, path: str, default: Any = PathError) -> Any:
    current = obj
    for part in split(path):
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            if default is PathError:
                raise PathError(f"{path!r}: no {part!r}") from None
            return default
    return current


def set_path(obj: Any, path: str, value: Any) -> None:
    parts = split(path)
    current = obj
    for part, nxt in itertools.pairwise(parts):
        try:
            current = current[part]
        except KeyError:
            current[part] = [] if isinstance(nxt, int) else {}
            current = current[part]
        except (IndexError, TypeError):
            raise PathError(f"{path!r}: cannot descend into {part!r}") from None
    last = parts[-1]
    try:
        current[last] = value
    except (IndexError, TypeError):
        raise PathError(f"{path!r}: cannot set {last!r}") from None
