"""Object resources to BlobInfo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lexigram.storage.gcs.objects import blob_info, parse_time


def test_parse_time_is_aware_utc() -> None:
    moment = parse_time("2026-11-25T01:12:16.372882Z")
    assert moment == datetime(2026, 11, 25, 1, 12, 16, 372882, tzinfo=UTC)
    assert moment is not None and moment.utcoffset() == timedelta(0)
    assert parse_time("2026-11-25T02:12:16+01:00") == datetime(2026, 11, 25, 1, 12, 16, tzinfo=UTC)
    assert parse_time(None) is None and parse_time("") is None


def test_blob_info_fields() -> None:
    info = blob_info(
        {
            "name": "a/b.txt",
            "size": "12",
            "contentType": "text/plain",
            "updated": "2026-01-01T00:00:00Z",
            "etag": "CJ",
            "metadata": {"owner": "me"},
        }
    )
    assert (info.path, info.size, info.content_type, info.etag) == (
        "a/b.txt",
        12,
        "text/plain",
        "CJ",
    )
    assert dict(info.metadata) == {"owner": "me"} and not info.is_prefix
    bare = blob_info({"name": "x", "md5Hash": "abc=="})
    assert bare.size == 0 and bare.etag == "abc==" and bare.metadata == {}


def test_blob_info_etag_names_the_version() -> None:
    resource = {"name": "x", "etag": "CJ", "generation": "17", "metageneration": "2"}
    assert blob_info(resource).etag == '"17.2"'
    assert blob_info({"name": "x", "generation": "17"}).etag == '"17.1"'
