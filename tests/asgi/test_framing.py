"""Answers framed for ASGI: the headers of one answer never go out with another's."""

from __future__ import annotations

from eureka_embed.asgi.framing import ResponseFraming
from eureka_embed.http.messages import EndpointResponse

BODY = b'{"application": {}}'


def _answer(index: str, body: bytes = BODY) -> EndpointResponse:
    return EndpointResponse(200, "application/json", body, (("X-Eureka-Index", index),))


def test_equal_answers_get_equal_headers_and_each_its_own_list() -> None:
    framing = ResponseFraming()
    for _ in range(3):
        # Starlette's middleware may add to the list it gets.
        framing.headers(_answer("7")).append((b"x-added-by", b"middleware"))
    assert framing.headers(_answer("7")) == [
        (b"content-type", b"application/json"),
        (b"x-eureka-index", b"7"),
        (b"content-length", str(len(BODY)).encode()),
    ]


def test_the_next_answer_gets_its_own_index_and_length() -> None:
    framing = ResponseFraming()
    framing.headers(_answer("7"))
    assert (b"x-eureka-index", b"8") in framing.headers(_answer("8"))
    longer = framing.headers(_answer("8", BODY + b" "))
    assert (b"content-length", str(len(BODY) + 1).encode()) in longer
    assert (b"x-eureka-index", b"7") in framing.headers(_answer("7"))
