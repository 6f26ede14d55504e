"""``__all__`` is the public surface; the entry-point module stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

MODULES = {
    "lexigram.storage.local": {"DRIVER", "StorageLocalConfig", "create_driver"},
    "lexigram.storage.local.driver": {"LocalDriver"},
    "lexigram.storage.local.signing": {
        "ExpiredSignatureError",
        "InvalidSignatureError",
        "SignedRequest",
        "parse_query",
        "sign",
        "signed_url",
        "verify_presigned_url",
        "verify_query",
    },
    "lexigram.storage.local.asgi": {"ASGIApp", "create_app"},
    "lexigram.storage.local.version": {"OpenVersion", "open_version"},
    "lexigram.storage.local.http_headers": {
        "MAX_DIGITS",
        "UNSATISFIABLE",
        "Unsatisfiable",
        "byte_range",
        "header_value",
        "not_modified",
    },
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_all_is_the_public_surface(name: str) -> None:
    module = importlib.import_module(name)
    assert set(module.__all__) == MODULES[name]
    for attr in module.__all__:
        assert getattr(module, attr) is not None


def test_entry_point_module_does_not_import_the_driver() -> None:
    code = (
        "import sys; from lexigram.storage import get_driver; get_driver('local'); "
        "print('lexigram.storage.local.driver' in sys.modules, "
        "'lexigram.storage.local.files' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_no_namespace_init_files() -> None:
    import lexigram.storage.local as local

    src = local.__file__
    assert src is not None
    from pathlib import Path

    base = Path(src).parents[2]  # .../src/lexigram
    assert not (base / "__init__.py").exists()
    assert (Path(src).parent / "py.typed").exists()
