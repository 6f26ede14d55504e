"""Refuse to run beside a distribution that turns ``lexigram`` into a regular package.

``lexigram`` is a PEP 420 namespace: none of our wheels ships ``lexigram/__init__.py``.
The unrelated ``lexigram-storage`` distribution on PyPI (a framework, not this project)
and the ``lexigram`` distribution it depends on do ship ``lexigram/__init__.py`` and
``lexigram/storage/__init__.py``, ``lexigram/storage/kv/__init__.py`` and
``lexigram/storage/cli/__init__.py``, overwriting ours on install. Once ``lexigram`` has an
``__init__.py``, which of the two projects answers ``import lexigram.storage`` depends on
the install order; rather than run half of each, core's ``lexigram/storage/__init__.py``
calls :func:`check_namespace` and stops with an error that says how to repair the
environment. The check is one attribute lookup on an already imported module.
"""

from __future__ import annotations

import sys

__all__ = ["check_namespace"]

REPAIR = (
    "pip uninstall lexigram-storage lexigram, then "
    "pip install --force-reinstall lexigram-storage-core "
    "(and the lexigram-storage-* distributions you use, e.g. lexigram-storage-kit)"
)


def check_namespace() -> None:
    """Raise :class:`ImportError` if ``lexigram`` is a regular package, not a namespace.

    A namespace package has no ``__file__`` (``None``); a ``lexigram/__init__.py`` on the
    path gives it one, and that file never comes from a ``lexigram-storage-*``
    distribution of this project.
    """
    parent = sys.modules.get("lexigram")
    init = getattr(parent, "__file__", None)
    if init is None:
        return
    raise ImportError(
        f"lexigram-storage-core cannot run in this environment: {init} makes 'lexigram' a "
        "regular package, but it must be a namespace (no lexigram/__init__.py). The file "
        "comes from another project, most likely the unrelated 'lexigram-storage' "
        "distribution on PyPI and its 'lexigram' dependency, which also overwrite "
        "lexigram/storage/__init__.py. The two cannot share an environment; to repair it: "
        f"{REPAIR}. The distribution of this project's command line and extras is "
        "lexigram-storage-kit.",
        name="lexigram.storage",
        path=init,
    )
