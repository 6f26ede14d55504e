"""OpenTelemetry spans and metrics of the stores, read back through the SDK's in-memory
exporters, on memory, local disk and S3 (moto, also behind the fault proxy)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from lexigram.storage import (
    BlobNotFoundError,
    StorageConfig,
    StorageProvider,
    StorageUnavailableError,
)
from lexigram.storage.otel import (
    ATTR_BACKEND,
    ATTR_BYTES,
    ATTR_DRIVER,
    ATTR_ERROR_CODE,
    ATTR_KEY,
    ATTR_LOCATION,
    ATTR_RETRIES,
    LexigramStorageInstrumentor,
    instrument,
)
from lexigram.storage.testing.faults import Fault, FaultProxy
from lexigram.storage.testing.servers import ServerProcess

from .conftest import ACCESS_KEY, SECRET_KEY, s3_config

BODY = bytes(range(256)) * 256  # 64 KiB
MID_BODY = 16 * 1024  # a response byte past the headers, inside the body


class Telemetry:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def finished(self) -> list[ReadableSpan]:
        """The store's spans, in the order they ended."""
        spans = self.spans.get_finished_spans()
        return [s for s in spans if s.name.startswith("lexigram.storage ")]

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        assert data is not None
        return [
            point
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    t = Telemetry()
    yield t
    t.tracer_provider.shutdown()
    t.meter_provider.shutdown()


def _no_secret(spans: list[ReadableSpan]) -> None:
    for span in spans:
        text = repr(dict(span.attributes or {})) + repr(span.status.description)
        assert SECRET_KEY not in text and ACCESS_KEY not in text


async def test_spans_and_metrics_on_each_backend(
    backend_config: dict[str, Any], telemetry: Telemetry
) -> None:
    provider = StorageProvider(StorageConfig.from_dict(backend_config))
    store = provider.store("data")  # created before instrument(): it is instrumented too
    instrument(provider, telemetry.tracer_provider, telemetry.meter_provider)
    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request") as parent:
        await store.upload("docs/a.txt", b"0123456789")
    assert await store.download("docs/a.txt") == b"0123456789"
    assert await store.download("docs/a.txt", range=(2, 5)) == b"234"
    with pytest.raises(BlobNotFoundError):
        await store.info("docs/missing.txt")
    await provider.aclose()

    spans = telemetry.finished()
    assert [s.name for s in spans] == [
        "lexigram.storage upload",
        "lexigram.storage download",
        "lexigram.storage download",
        "lexigram.storage info",
    ]
    upload, download, ranged, missing = spans
    driver = backend_config["backends"][0]["driver"]
    assert upload.kind is SpanKind.CLIENT
    assert upload.parent is not None and upload.parent.span_id == parent.get_span_context().span_id
    assert upload.attributes is not None
    assert upload.attributes[ATTR_BACKEND] == "data"
    assert upload.attributes[ATTR_DRIVER] == driver
    assert upload.attributes[ATTR_BYTES] == 10
    assert upload.attributes[ATTR_RETRIES] == 0
    assert upload.start_time is not None and upload.end_time is not None
    assert upload.start_time <= upload.end_time
    if driver == "s3":
        bucket = backend_config["backends"][0]["s3"]["bucket"]
        assert upload.attributes[ATTR_LOCATION] == f"bucket {bucket!r}"
    assert download.attributes is not None and download.attributes[ATTR_BYTES] == 10
    assert ranged.attributes is not None and ranged.attributes[ATTR_BYTES] == 3
    # the error span: its code, never its message (which names the key)
    assert missing.status.status_code is StatusCode.ERROR
    assert missing.status.description == "not_found"
    assert missing.attributes is not None
    assert missing.attributes[ATTR_ERROR_CODE] == "not_found"
    assert missing.attributes["error.type"] == "not_found"
    for span in spans:
        assert span.attributes is not None and ATTR_KEY not in span.attributes
        assert "missing.txt" not in repr(dict(span.attributes))
    _no_secret(spans)

    durations = telemetry.points("lexigram.storage.operation.duration")
    by_op = {
        (p.attributes["lexigram.storage.operation"], p.attributes.get("error.type")): p
        for p in durations
    }
    assert by_op[("download", None)].count == 2
    assert by_op[("info", "not_found")].count == 1
    moved = {
        p.attributes["lexigram.storage.operation"]: p.value
        for p in telemetry.points("lexigram.storage.bytes")
    }
    assert moved == {"upload": 10, "download": 13}
    errors = telemetry.points("lexigram.storage.errors")
    assert [(p.attributes["error.type"], p.value) for p in errors] == [("not_found", 1)]


async def test_keys_are_recorded_only_when_asked(telemetry: Telemetry) -> None:
    provider = StorageProvider()
    instrument(provider, telemetry.tracer_provider, telemetry.meter_provider, record_keys=True)
    await provider.store().upload("users/42/avatar.png", b"png")
    await provider.aclose()
    (span,) = telemetry.finished()
    assert span.attributes is not None and span.attributes[ATTR_KEY] == "users/42/avatar.png"


async def test_global_instrumentor_covers_new_stores_until_uninstrumented(
    telemetry: Telemetry,
) -> None:
    instrumentor = LexigramStorageInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        assert instrumentor.is_instrumented
        provider = StorageProvider()
        await provider.store().upload("a", b"1")
    finally:
        instrumentor.uninstrument()
    assert [s.name for s in telemetry.finished()] == ["lexigram.storage upload"]
    await provider.store().upload("b", b"2")  # instrumented before, silent now
    await StorageProvider().store().upload("c", b"3")
    assert len(telemetry.finished()) == 1
    assert not instrumentor.is_instrumented


async def test_a_retried_operation_reports_its_retries(
    moto_server: ServerProcess, s3_bucket: str, telemetry: Telemetry
) -> None:
    with FaultProxy(upstream_port=moto_server.port) as proxy:
        config = s3_config(proxy.url, s3_bucket, max_attempts=1)  # no SDK retries
        config["retry"] = {"attempts": 3, "base_delay": 0}
        provider = StorageProvider(StorageConfig.from_dict(config))
        instrument(provider, telemetry.tracer_provider, telemetry.meter_provider)
        store = provider.store("data")
        await store.upload("r.bin", BODY)
        # the next response is reset in its body: the core retries the read
        rule = proxy.add(Fault.RESET, per="exchange", at_byte=MID_BODY, limit=1)
        assert await store.download("r.bin") == BODY
        assert rule.injected == 1
        await provider.aclose()
    upload, download = telemetry.finished()
    assert upload.attributes is not None and upload.attributes[ATTR_RETRIES] == 0
    assert download.attributes is not None and download.attributes[ATTR_RETRIES] == 1
    assert download.status.status_code is not StatusCode.ERROR
    _no_secret([upload, download])


async def test_an_operation_that_runs_out_of_retries_is_an_unavailable_error_span(
    moto_server: ServerProcess, s3_bucket: str, telemetry: Telemetry
) -> None:
    with FaultProxy(upstream_port=moto_server.port) as proxy:
        config = s3_config(proxy.url, s3_bucket, max_attempts=1)
        config["retry"] = {"attempts": 2, "base_delay": 0}
        provider = StorageProvider(StorageConfig.from_dict(config))
        instrument(provider, telemetry.tracer_provider, telemetry.meter_provider)
        store = provider.store("data")
        await store.upload("x.bin", BODY)
        proxy.add(Fault.RESET, per="exchange", at_byte=MID_BODY)  # every response, mid-body
        with pytest.raises(StorageUnavailableError, match="after 2 attempts"):
            await store.download("x.bin")
        proxy.clear()
        await provider.aclose()
    _, span = telemetry.finished()
    assert span.name == "lexigram.storage download"
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes[ATTR_ERROR_CODE] == "unavailable"
    assert span.attributes[ATTR_RETRIES] == 1
    _no_secret([span])
