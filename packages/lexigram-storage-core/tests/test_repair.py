"""The repair policy shared by the drivers with end-to-end checksums."""

from __future__ import annotations

import pytest

from lexigram.storage.errors import DriverError, ErrorCode
from lexigram.storage.repair import REPAIRS, keep_intact


class Server:
    """A server that stores an upload altered the first ``altered`` times."""

    def __init__(self, altered: int) -> None:
        self.altered = altered
        self.sent = 1  # the first upload happened before keep_intact is called
        self.removed: list[str] = []

    def answer(self) -> str:
        return "bad" if self.sent <= self.altered else "good"

    async def send_again(self, answer: str) -> str:
        assert answer == "bad"  # only an altered version is replaced
        self.sent += 1
        return self.answer()

    async def remove(self, answer: str) -> None:
        self.removed.append(answer)


def _intact(answer: str) -> bool:
    return answer == "good"


async def _keep(server: Server, mismatch: str = "x") -> str:
    """keep_intact over ``server``'s first answer, with its own resend and remove."""
    return await keep_intact(
        server.answer(),
        intact=_intact,
        send_again=server.send_again,
        remove=server.remove,
        mismatch=mismatch,
    )


async def test_an_intact_upload_is_returned_as_it_is() -> None:
    server = Server(altered=0)
    got = await _keep(server)
    assert got == "good" and server.sent == 1 and server.removed == []


@pytest.mark.parametrize("altered", range(1, REPAIRS + 1))
async def test_an_altered_upload_is_sent_again_until_intact(altered: int) -> None:
    server = Server(altered=altered)
    got = await _keep(server)
    assert got == "good" and server.sent == altered + 1 and server.removed == []


async def test_still_altered_after_the_repairs_is_removed_and_raised() -> None:
    server = Server(altered=REPAIRS + 1)
    with pytest.raises(DriverError) as caught:
        await _keep(server, "the ETag differs")
    assert caught.value.code is ErrorCode.DATA_CORRUPTED
    assert f"{REPAIRS + 1} times" in str(caught.value) and "the ETag differs" in str(caught.value)
    assert server.sent == REPAIRS + 1 and server.removed == ["bad"]


async def test_a_body_that_cannot_be_sent_again_is_removed_at_once() -> None:
    server = Server(altered=1)

    async def failing_remove(answer: str) -> None:
        server.removed.append(answer)
        raise OSError("the delete failed too")

    with pytest.raises(DriverError) as caught:
        await keep_intact(
            server.answer(),
            intact=_intact,
            send_again=None,
            remove=failing_remove,
            mismatch="x",
        )
    # the corruption is what is reported, not the failed clean-up
    assert caught.value.code is ErrorCode.DATA_CORRUPTED
    assert server.sent == 1 and server.removed == ["bad"]
