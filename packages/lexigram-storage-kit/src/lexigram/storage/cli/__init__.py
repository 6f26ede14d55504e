"""The ``lexigram-storage`` command line (``python -m lexigram.storage.cli`` works too)."""

from lexigram.storage.cli.main import main

__all__ = ["main"]
