"""Canary secrets for the whole integration suite (issue 9, item 6).

Every credential the integration tests hand to a driver is a *canary*: a value registered
here and nowhere else expected. After each phase of every test (setup, call, teardown)
the hook below scans what a user or an operator could see, and fails the test naming the
canary and where it appeared:

- the captured stdout/stderr and log records of that phase: the *root* logger is set to
  DEBUG for the session, so every record of every logger is made and captured, the debug
  lines of the SDKs under the drivers (botocore, aiobotocore, azure-core, aiohttp...) too;
- the failure report (traceback, exception messages and reprs, chained causes);
- the message of every :class:`~lexigram.storage.errors.StorageError` and
  :class:`~lexigram.storage.errors.DriverError` built during the test, also the ones a
  test catches with ``pytest.raises`` (their ``__init__`` is wrapped for the session);
- CLI output: tests that run the command line as a subprocess pass its output through
  :func:`assert_no_canary` (see ``run_cli``).

The registry holds the fixed canaries below plus the ones fixtures make at run time
(the generated service-account key: its id and every line of its PEM body, see
:func:`register`). ``tests-integration/conftest.py`` loads this module's hooks; the
self-test (``reliability/test_secrets.py``) proves a leak through each channel is caught.
"""

from __future__ import annotations

import functools
import logging
import subprocess
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from lexigram.storage.errors import DriverError, StorageError

__all__ = [
    "AZURE_ACCOUNT_KEY",
    "CANARIES",
    "CLI_ACCESS_KEY",
    "CLI_SECRET_KEY",
    "GCS_PRIVATE_KEY_ID",
    "KEYS_ACCESS_KEY",
    "KEYS_SECRET_KEY",
    "URL_ACCESS_KEY",
    "URL_SECRET_KEY",
    "assert_no_canary",
    "find_canaries",
    "register",
    "run_cli",
]

#: Azurite's well-known development key: public, but a secret as far as our code knows.
AZURE_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
#: moto accepts any keys: each suite part has its own, so a leak says where it came from.
S3_ACCESS_KEY = "AKIACANARYACCESSKEY1"  # tests-integration/s3
S3_SECRET_KEY = "canary-secret-key-never-in-messages-0123"
RELIABILITY_ACCESS_KEY = "AKIARELIABILITYCANARY"  # tests-integration/reliability
RELIABILITY_SECRET_KEY = "reliability-canary-secret-0123456789abcd"
KEYS_ACCESS_KEY = "AKIACANARYKEYSPROPERTY"  # test_keys_every_driver.py
KEYS_SECRET_KEY = "keys-property-canary-secret-0123456789"
CLI_ACCESS_KEY = "AKIACANARYCLIACCESSKEY"  # test_cli_across_backends.py
CLI_SECRET_KEY = "cli-canary-secret-key-0123456789"
DOCS_ACCESS_KEY = "AKIADOCSEXAMPLEKEY01"  # test_docs_samples.py
DOCS_SECRET_KEY = "docs-example-secret-key-0123456789"
URL_ACCESS_KEY = "AKIACANARYSTOREURLS01"  # test_store_urls.py (from the environment)
URL_SECRET_KEY = "store-url-canary-secret-0123456789abc"
#: the generated service account's key id (conftest.py ``service_account``).
GCS_PRIVATE_KEY_ID = "canary0private0key0id0" + "0" * 18

#: name -> value of every canary in use (fixtures add to it with :func:`register`).
CANARIES: dict[str, str] = {
    "azure account key": AZURE_ACCOUNT_KEY,
    "s3 secret key": S3_SECRET_KEY,
    "reliability secret key": RELIABILITY_SECRET_KEY,
    "keys-test secret key": KEYS_SECRET_KEY,
    "cli secret key": CLI_SECRET_KEY,
    "docs secret key": DOCS_SECRET_KEY,
    "gcs private key id": GCS_PRIVATE_KEY_ID,
    # access key ids: secret fields of the config too (only presigned URLs carry them,
    # as AWS's signature scheme requires)
    "s3 access key": S3_ACCESS_KEY,
    "reliability access key": RELIABILITY_ACCESS_KEY,
    "keys-test access key": KEYS_ACCESS_KEY,
    "cli access key": CLI_ACCESS_KEY,
    "docs access key": DOCS_ACCESS_KEY,
    "store-url secret key": URL_SECRET_KEY,
    "store-url access key": URL_ACCESS_KEY,
}


def register(name: str, value: str) -> None:
    """Add a canary made at run time (e.g. a generated private key's PEM body lines)."""
    if len(value) < 16:
        raise ValueError(f"canary {name!r} is too short to be recognisable")
    CANARIES[name] = value


def find_canaries(text: str) -> list[str]:
    """The names of the canaries that appear in ``text``."""
    return [name for name, value in CANARIES.items() if value in text]


def assert_no_canary(text: str, where: str) -> None:
    found = find_canaries(text)
    assert not found, f"canary secret(s) {found} appear in {where}"


def run_cli(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run`` for the command line, with its stdout and stderr scanned."""
    done = subprocess.run(args, **kwargs)
    for name in ("stdout", "stderr"):
        out = getattr(done, name)
        if out:
            text = out if isinstance(out, str) else out.decode("utf-8", "replace")
            assert_no_canary(text, f"the {name} of {' '.join(map(str, args[-3:]))}")
    return done


# -- the hooks (loaded by tests-integration/conftest.py) -------------------------------

#: (test, message) of every error built with a canary in its message or repr.
_ERROR_LEAKS: list[str] = []
_WRAPPED: list[tuple[type, Callable[..., None]]] = []
_ROOT_LEVEL: list[int] = []


def _watch_errors(cls: type) -> None:
    original = cls.__init__

    @functools.wraps(original)
    def init(self: Exception, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        text = f"{self}\n{self!r}"
        found = find_canaries(text)
        if found:
            _ERROR_LEAKS.append(f"{found} in {type(self).__name__}: {text}")

    _WRAPPED.append((cls, original))
    cls.__init__ = init  # type: ignore[misc]


def configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "canary_leak_expected(*channels): the test leaks canaries on purpose through these "
        "channels ('log', 'stdout', 'error'); it fails unless the scanner catches each one",
    )
    _ROOT_LEVEL.append(logging.root.level)
    logging.root.setLevel(logging.DEBUG)
    for cls in (StorageError, DriverError):
        _watch_errors(cls)


def unconfigure() -> None:
    while _ROOT_LEVEL:
        logging.root.setLevel(_ROOT_LEVEL.pop())
    while _WRAPPED:
        cls, original = _WRAPPED.pop()
        cls.__init__ = original  # type: ignore[misc]


def _channels(report: pytest.TestReport) -> Iterable[tuple[str, str, str]]:
    """(channel, where, text) for everything this phase of the test showed."""
    for title, content in report.sections:
        if title.endswith(f" {report.when}"):  # each phase's own sections, once
            channel = "log" if " log " in title else "stdout" if "stdout" in title else "stderr"
            yield channel, title.lower(), content
    if report.longrepr is not None:
        yield "report", "the failure report", report.longreprtext
    while _ERROR_LEAKS:
        yield "error", "an error message or repr", _ERROR_LEAKS.pop()


def check_report(item: pytest.Item, report: pytest.TestReport) -> None:
    """Fail ``report`` if a canary showed; with ``canary_leak_expected``, fail it unless
    every expected channel did show one."""
    leaks = [
        (channel, where, find_canaries(text))
        for channel, where, text in _channels(report)
        if find_canaries(text)
    ]
    marker = item.get_closest_marker("canary_leak_expected")
    if marker is not None:
        if report.when != "call":
            return
        missed = set(marker.args) - {channel for channel, _, _ in leaks}
        if missed and report.passed:
            report.outcome = "failed"
            report.longrepr = f"the canary scanner missed the leak(s) through {sorted(missed)}"
        return
    if leaks:
        lines = "\n".join(f"  {names} in {where}" for _, where, names in leaks)
        previous = f"\n\n{report.longreprtext}" if report.longrepr is not None else ""
        report.outcome = "failed"
        report.longrepr = f"canary secret(s) leaked in {report.when}:\n{lines}{previous}"
