"""OpenTelemetry for the blob stores: one span per operation, and metrics.

Install the ``otel`` extra (``pip install 'lexigram-storage-core[otel]'``, which brings
``opentelemetry-api``; the application brings the SDK and its exporters), then either
instrument what you hold::

    from lexigram.storage.otel import instrument
    instrument(provider)            # a StorageProvider (all its stores) or one BlobStore

or every store created from now on::

    LexigramStorageInstrumentor().instrument()

Built on :mod:`lexigram.storage.instrumentation`: each operation's
:class:`~lexigram.storage.instrumentation.OperationEvent` becomes a span named
``lexigram.storage <operation>`` (its start is the operation's start, its parent the span
current when the operation was awaited) and three instruments of the meter
``lexigram.storage``. No secret is recorded, and the object key only with
``record_keys=True`` (keys can carry personal data); an error's message, which names the
key, is never recorded: its code is.
"""

from __future__ import annotations

import time

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from lexigram.storage.instrumentation import (
    OperationEvent,
    add_default_hook,
    remove_default_hook,
)
from lexigram.storage.provider import StorageProvider
from lexigram.storage.store import BlobStore

__all__ = [
    "ATTR_BACKEND",
    "ATTR_BYTES",
    "ATTR_DRIVER",
    "ATTR_ERROR_CODE",
    "ATTR_KEY",
    "ATTR_LOCATION",
    "ATTR_OPERATION",
    "ATTR_RETRIES",
    "SCOPE",
    "LexigramStorageInstrumentor",
    "StorageTelemetry",
    "instrument",
]

#: the instrumentation scope of the tracer and the meter
SCOPE = "lexigram.storage"
ATTR_BACKEND = "lexigram.storage.backend"
ATTR_DRIVER = "lexigram.storage.driver"
ATTR_LOCATION = "lexigram.storage.location"
ATTR_OPERATION = "lexigram.storage.operation"
ATTR_BYTES = "lexigram.storage.bytes"
ATTR_RETRIES = "lexigram.storage.retries"
ATTR_ERROR_CODE = "lexigram.storage.error_code"
ATTR_KEY = "lexigram.storage.key"


class StorageTelemetry:
    """The hook that turns operation events into spans and metrics.

    Metrics: ``lexigram.storage.operation.duration`` (histogram, seconds, by backend,
    driver, operation and ``error.type``), ``lexigram.storage.bytes`` (counter, bytes
    read or written, by backend, driver and operation) and ``lexigram.storage.errors``
    (counter, by backend, driver, operation and ``error.type``, the error code).
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        *,
        record_keys: bool = False,
    ) -> None:
        self.record_keys = record_keys
        #: ``False`` turns this hook into a no-op (``uninstrument()``)
        self.enabled = True
        self._tracer = trace.get_tracer(SCOPE, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, meter_provider=meter_provider)
        self._duration = meter.create_histogram(
            "lexigram.storage.operation.duration",
            unit="s",
            description="Duration of blob store operations, retries included.",
        )
        self._bytes = meter.create_counter(
            "lexigram.storage.bytes",
            unit="By",
            description="Object bytes read or written.",
        )
        self._errors = meter.create_counter(
            "lexigram.storage.errors",
            unit="{error}",
            description="Failed blob store operations, by error code.",
        )

    def __repr__(self) -> str:
        return f"StorageTelemetry(record_keys={self.record_keys!r})"

    def __call__(self, event: OperationEvent) -> None:
        if not self.enabled:
            return
        end = time.time_ns()
        start = end - int(event.duration_s * 1e9)
        common: dict[str, AttributeValue] = {
            ATTR_BACKEND: event.backend,
            ATTR_DRIVER: event.driver,
            ATTR_OPERATION: event.operation,
        }
        attributes = dict(common)
        if event.location is not None:
            attributes[ATTR_LOCATION] = event.location
        if event.nbytes is not None:
            attributes[ATTR_BYTES] = event.nbytes
        attributes[ATTR_RETRIES] = max(0, event.attempts - 1)
        if self.record_keys and event.key is not None:
            attributes[ATTR_KEY] = event.key
        code = event.error.code.value if event.error is not None else None
        if code is not None:
            attributes[ATTR_ERROR_CODE] = code
            attributes["error.type"] = code
        span = self._tracer.start_span(
            f"lexigram.storage {event.operation}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=start,
            record_exception=False,
        )
        if code is not None:
            span.set_status(Status(StatusCode.ERROR, code))
        span.end(end_time=end)

        measured = dict(common)
        if code is not None:
            measured["error.type"] = code
            self._errors.add(1, measured)
        self._duration.record(event.duration_s, measured)
        if event.nbytes:
            self._bytes.add(event.nbytes, common)


def instrument(
    target: StorageProvider | BlobStore,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
    *,
    record_keys: bool = False,
) -> StorageTelemetry:
    """Emit spans and metrics for every operation of ``target``: a provider's stores
    (those created so far and later) or one store. ``None`` providers mean the global
    ones. Returns the hook."""
    telemetry = StorageTelemetry(tracer_provider, meter_provider, record_keys=record_keys)
    if not isinstance(target, StorageProvider | BlobStore):
        raise TypeError(
            f"instrument() takes a StorageProvider or a BlobStore, not {type(target).__name__}"
        )
    target.add_hook(telemetry)
    return telemetry


class LexigramStorageInstrumentor:
    """Process-wide instrumentation: every store created after ``instrument()`` (by any
    provider, or directly) emits spans and metrics, until ``uninstrument()``."""

    _active: StorageTelemetry | None = None

    def instrument(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        record_keys: bool = False,
    ) -> None:
        """Start instrumenting new stores (a second call replaces the first's settings)."""
        self.uninstrument()
        telemetry = StorageTelemetry(tracer_provider, meter_provider, record_keys=record_keys)
        LexigramStorageInstrumentor._active = telemetry
        add_default_hook(telemetry)

    def uninstrument(self) -> None:
        """Stop instrumenting: no store emits spans or metrics through it any more."""
        active = LexigramStorageInstrumentor._active
        if active is not None:
            active.enabled = False
            remove_default_hook(active)
            LexigramStorageInstrumentor._active = None

    @property
    def is_instrumented(self) -> bool:
        return LexigramStorageInstrumentor._active is not None
