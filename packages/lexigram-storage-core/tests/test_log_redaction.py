"""lexigram.storage.log_redaction: registered values never leave in a log record, of any
logger (also one created after the registration), through the message, its arguments,
the exception text or the stack; records without one are left as they were."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lexigram.storage.log_redaction import HiddenSecrets, hide_in_logs


def _secret() -> str:
    return f"secret-{uuid.uuid4().hex}"


@pytest.fixture
def out() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A new SDK-like child logger at DEBUG, whose records reach a handler on its *parent*
    only (as the SDKs' module loggers reach the application's handlers)."""
    name = f"sdk{uuid.uuid4().hex[:8]}"
    parent = logging.getLogger(name)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    parent.addHandler(handler)
    parent.setLevel(logging.DEBUG)
    parent.propagate = False
    try:
        yield logging.getLogger(f"{name}.endpoint"), stream
    finally:
        parent.removeHandler(handler)


def test_a_child_logger_made_after_the_registration_is_scrubbed(
    out: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = out
    secret = _secret()
    hidden = hide_in_logs([secret])
    try:
        child = logging.getLogger(f"{logger.name}.auth.v4")  # created only now
        child.debug("headers: %s", {"Authorization": f"Credential={secret}/scope"})
        child.info(f"in the message itself: {secret}")
        child.warning("in a mapping %(token)s", {"token": secret})
    finally:
        hidden.release()
    text = stream.getvalue()
    assert secret not in text
    assert text.count("***") == 3, text
    assert "{'Authorization': 'Credential=***/scope'}" in text


def test_exception_text_is_scrubbed(out: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = out
    secret = _secret()
    hidden = hide_in_logs([secret])
    try:
        try:
            raise RuntimeError(f"signed with {secret}")
        except RuntimeError:
            logger.exception("request failed")
    finally:
        hidden.release()
    text = stream.getvalue()
    assert secret not in text
    assert "RuntimeError: signed with ***" in text
    assert "Traceback (most recent call last)" in text


def test_stack_info_is_scrubbed(out: tuple[logging.Logger, io.StringIO], tmp_path: Path) -> None:
    """``stack_info`` shows the calling source lines: here one that holds the secret."""
    logger, stream = out
    secret = _secret()
    source = tmp_path / "sdk_module.py"
    source.write_text(f"def log(logger):\n    logger.debug('here', stack_info=True)  # {secret}\n")
    namespace: dict[str, Any] = {}
    exec(compile(source.read_text(), str(source), "exec"), namespace)
    hidden = hide_in_logs([secret])
    try:
        namespace["log"](logger)
    finally:
        hidden.release()
    text = stream.getvalue()
    assert "Stack (most recent call last)" in text and "sdk_module.py" in text
    assert secret not in text and "# ***" in text


def test_records_without_a_secret_are_left_alone(
    out: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, _ = out
    hidden = hide_in_logs([_secret()])
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    logger.addHandler(keep)
    try:
        logger.debug("sent %s bytes to %s", 10, "bucket")
        try:
            raise ValueError("plain")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(keep)
        hidden.release()
    assert records[0].msg == "sent %s bytes to %s" and records[0].args == (10, "bucket")
    assert records[1].exc_info is not None and records[1].exc_info[0] is ValueError


def test_release_is_counted_per_registration(out: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = out
    secret = _secret()
    first = hide_in_logs([secret])
    second = hide_in_logs([secret, None, "abc"])  # None and too-short values are ignored
    first.release()
    first.release()  # idempotent: does not release the second one's hold
    logger.debug("still hidden: %s", secret)
    second.release()
    logger.debug("no longer registered: %s", secret)
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("still hidden: ***")
    assert lines[1].endswith(f"no longer registered: {secret}")


def test_a_message_its_arguments_do_not_fit_shows_no_secret(
    out: tuple[logging.Logger, io.StringIO], capsys: pytest.CaptureFixture[str]
) -> None:
    """logging reports a message that cannot be formatted with its raw arguments (on
    stderr): the record reaches it scrubbed, and logging never raises into the caller."""
    logger, stream = out
    secret = _secret()
    hidden = hide_in_logs([secret])
    try:
        logger.debug("token %d", secret)
    finally:
        hidden.release()
    shown = stream.getvalue() + capsys.readouterr().err
    assert secret not in shown
    assert "token %d" in shown and "***" in shown


def test_the_factory_found_still_runs_and_a_replaced_one_is_wrapped_again(
    out: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = out
    original = logging.getLogRecordFactory()

    def tagging(*args: object, **kwargs: object) -> logging.LogRecord:
        record = original(*args, **kwargs)
        record.tag = "tagged"
        return record

    secret = _secret()
    logging.setLogRecordFactory(tagging)  # e.g. an application's, set after ours
    try:
        hidden = hide_in_logs([secret])
        records: list[logging.LogRecord] = []

        class Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                records.append(record)

        keep = Keep()
        logger.addHandler(keep)
        try:
            logger.debug("key %s", secret)
        finally:
            logger.removeHandler(keep)
            hidden.release()
    finally:
        logging.setLogRecordFactory(original)
    assert records[0].tag == "tagged"  # type: ignore[attr-defined]
    assert records[0].getMessage() == "key ***"
    assert secret not in stream.getvalue()


def test_the_registration_shows_no_value() -> None:
    secret = _secret()
    hidden = hide_in_logs([secret])
    try:
        assert isinstance(hidden, HiddenSecrets)
        assert repr(hidden) == "HiddenSecrets(1 values)"
        assert secret not in f"{hidden!s}{hidden!r}"
    finally:
        hidden.release()


def test_a_factory_set_over_ours_without_chaining_is_wrapped_by_the_next_registration(
    out: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = out
    original = logging.getLogRecordFactory()
    first = hide_in_logs([_secret()])  # ours is installed
    secret = _secret()

    def plain(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return logging.LogRecord(*args, **kwargs)

    logging.setLogRecordFactory(plain)  # replaces ours, calls nothing else
    try:
        second = hide_in_logs([secret])  # a driver creating its client later
        logger.debug("key %s", secret)
        second.release()
    finally:
        first.release()
        logging.setLogRecordFactory(original)
    assert stream.getvalue().endswith("key ***\n")
