"""Hostile requests as raw bytes: what schemathesis (which sends well-formed HTTP) does not.

Each strategy draws one :class:`Hostile` request of a kind: a Content-Length that lies, a
Content-Encoding that lies or bombs, nesting far past any parser's comfort, XML entities (the
billion laughs, external ones pointing at a listener of the test's), NUL and odd unicode in
paths, headers of megabytes. Every one is built so that no correct server may apply it as a
write: a write it carries is always malformed, so the stored data must not change.
"""

from __future__ import annotations

import gzip
import json
import socket
from dataclasses import dataclass
from functools import cache
from typing import Final
from urllib.parse import quote

from hypothesis import strategies as st

from tests.server.support import register_body

#: The app every hostile write names; its instances were registered before the run.
APP: Final = "FZ"
TARGET_ID: Final = "fz-0"


@dataclass(frozen=True)
class Hostile:
    kind: str
    data: bytes
    #: The request is a write: a 2xx answer to it would be a malformed write applied.
    write: bool
    #: The body is shorter than it claims: the client half-closes, and the server may answer
    #: 400 or just close.
    incomplete: bool = False

    def __repr__(self) -> str:  # hypothesis prints the failing example: keep it short
        return f"Hostile({self.kind}, {len(self.data)} bytes: {self.data[:120]!r})"


def request_bytes(
    method: str, target: bytes, headers: list[bytes], body: bytes = b"", *, length: bool = True
) -> bytes:
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines.append(b"Connection: close")
    if length:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join([*lines, *headers]) + b"\r\n\r\n" + body


#: Longest wait for an answer: a server that holds a hostile request longer is a failure.
ANSWER_TIMEOUT_S: Final = 10.0


def send_raw(port: int, data: bytes, *, half_close: bool) -> bytes:
    """The server's whole answer to ``data`` (empty when it closed without one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT_S) as sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused part-way through (a huge header): what it answered is still read
        answer = bytearray()
        try:
            while chunk := sock.recv(1 << 16):
                answer += chunk
        except ConnectionResetError:
            pass
        except TimeoutError:
            raise AssertionError(f"no answer within {ANSWER_TIMEOUT_S} s") from None
    return bytes(answer)


_REGISTER: Final = f"/eureka/apps/{APP}".encode()
_JSON_TYPE: Final = b"Content-Type: application/json"
_XML_TYPE: Final = b"Content-Type: application/xml"


def _valid_body() -> bytes:
    return register_body(APP, TARGET_ID, port=9999)


# -- Content-Length


@st.composite
def bad_content_length(draw: st.DrawFn) -> Hostile:
    body = _valid_body()
    value = draw(
        st.one_of(
            st.sampled_from([b"-1", b"-99999", b"abc", b"0x10", b"+5", b"1e3", b" ", b"1 2"]),
            st.integers(min_value=10**12, max_value=10**30).map(lambda n: str(n).encode()),
            st.binary(min_size=1, max_size=8).filter(lambda b: b"\r" not in b and b"\n" not in b),
        )
    )
    headers = [_JSON_TYPE, b"Content-Length: " + value]
    if draw(st.booleans()):  # a second, conflicting one
        headers.append(b"Content-Length: %d" % len(body))
    return Hostile(
        "content-length", request_bytes("POST", _REGISTER, headers, body, length=False), True
    )


@st.composite
def lying_content_length(draw: st.DrawFn) -> Hostile:
    """A well-formed Content-Length that is not the body's length."""
    body = _valid_body()
    shorter = draw(st.booleans())
    if shorter:  # the rest reads as a (garbage) next request; the body cut short is not JSON
        declared = draw(st.integers(min_value=1, max_value=len(body) - 1))
    else:
        declared = len(body) + draw(st.integers(min_value=1, max_value=10_000))
    headers = [_JSON_TYPE, b"Content-Length: %d" % declared]
    data = request_bytes("POST", _REGISTER, headers, body, length=False)
    return Hostile("lying-length", data, True, incomplete=not shorter)


# -- Content-Encoding and gzip bombs


@cache
def _bomb(megabytes: int, layers: int) -> bytes:
    data = b"\0" * (megabytes << 20)
    for _ in range(layers):
        data = gzip.compress(data, compresslevel=9)
    return data


@st.composite
def bad_content_encoding(draw: st.DrawFn) -> Hostile:
    body = _valid_body()
    choice = draw(st.sampled_from(["unknown", "not-gzip", "truncated", "bomb", "doubled"]))
    if choice == "unknown":
        coding = draw(st.sampled_from([b"br", b"deflate", b"compress", b"zstd", b"gzip, br"]))
        payload = body
    elif choice == "not-gzip":
        coding, payload = b"gzip", draw(st.binary(min_size=1, max_size=200))
    elif choice == "truncated":
        zipped = gzip.compress(body)
        coding, payload = b"gzip", zipped[: draw(st.integers(1, len(zipped) - 1))]
    elif choice == "bomb":  # megabytes of zeros in kilobytes: a 413, never the memory
        coding, payload = b"gzip", _bomb(draw(st.sampled_from([4, 64])), 1)
    else:  # gzip of gzip: each layer small, the last one huge
        coding, payload = b"gzip, gzip", _bomb(64, 2)
    headers = [_JSON_TYPE, b"Content-Encoding: " + coding]
    return Hostile(f"encoding-{choice}", request_bytes("POST", _REGISTER, headers, payload), True)


# -- nesting


@st.composite
def deep_nesting(draw: st.DrawFn) -> Hostile:
    depth = draw(st.integers(min_value=100, max_value=60_000))
    shape = draw(st.sampled_from(["json-array", "json-object", "json-field", "xml", "batch"]))
    target, content_type = _REGISTER, _JSON_TYPE
    if shape == "json-array":
        body = b"[" * depth + b"]" * depth
    elif shape == "json-object":
        body = b'{"instance":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"
    elif shape == "json-field":  # a valid registration with one field nested deep
        doc = json.loads(_valid_body())
        doc["instance"]["metadata"] = "@"
        body = json.dumps(doc).encode().replace(b'"@"', b'{"a":' * depth + b"1" + b"}" * depth)
    elif shape == "xml":
        content_type = _XML_TYPE
        body = b"<instance>" + b"<a>" * depth + b"</a>" * depth + b"</instance>"
    else:
        target = b"/eureka/peerreplication/batch"
        body = b'{"replicationList":' + b"[" * depth + b"]" * depth + b"}"
    return Hostile(f"nesting-{shape}", request_bytes("POST", target, [content_type], body), True)


# -- XML entities


@st.composite
def xml_entities(draw: st.DrawFn, canary_url: str) -> Hostile:
    choice = draw(st.sampled_from(["laughs", "quadratic", "external", "parameter", "xinclude"]))
    instance = _valid_body_xml()
    if choice == "laughs":
        levels = draw(st.integers(min_value=2, max_value=10))
        entities = '<!ENTITY l0 "lol">' + "".join(
            f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, levels)
        )
        dtd = f"<!DOCTYPE instance [{entities}]>"
        instance = instance.replace(
            "<hostName>h</hostName>", f"<hostName>&l{levels - 1};</hostName>"
        )
    elif choice == "quadratic":
        size = draw(st.integers(min_value=1_000, max_value=100_000))
        dtd = f'<!DOCTYPE instance [<!ENTITY a "{"a" * size}">]>'
        instance = instance.replace(
            "<hostName>h</hostName>", "<hostName>" + "&a;" * 200 + "</hostName>"
        )
    elif choice == "external":
        source = draw(st.sampled_from(["file:///etc/passwd", canary_url]))
        dtd = f'<!DOCTYPE instance [<!ENTITY e SYSTEM "{source}">]>'
        instance = instance.replace("<hostName>h</hostName>", "<hostName>&e;</hostName>")
    elif choice == "parameter":
        dtd = f'<!DOCTYPE instance [<!ENTITY % p SYSTEM "{canary_url}"> %p;]>'
    else:
        dtd = ""
        instance = instance.replace(
            "<instance>",
            '<instance xmlns:xi="http://www.w3.org/2001/XInclude">'
            f'<xi:include href="{canary_url}" parse="text"/>',
        ).replace("<hostName>h</hostName>", "")  # without the include it lacks a hostName
    body = f'<?xml version="1.0"?>{dtd}{instance}'.encode()
    return Hostile(f"xml-{choice}", request_bytes("POST", _REGISTER, [_XML_TYPE], body), True)


def _valid_body_xml() -> str:
    return (
        f"<instance><instanceId>{TARGET_ID}</instanceId><hostName>h</hostName><app>{APP}</app>"
        '<ipAddr>127.0.0.1</ipAddr><status>UP</status><port enabled="true">9999</port>'
        '<dataCenterInfo class="com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo">'
        "<name>MyOwn</name></dataCenterInfo></instance>"
    )


# -- paths


_ODD_TEXT: Final = st.text(
    st.characters(codec="utf-8", exclude_characters="/?#"), min_size=1, max_size=40
).filter(lambda t: not t.isascii() or "\0" in t)


@st.composite
def odd_paths(draw: st.DrawFn) -> Hostile:
    """NUL, unicode and broken UTF-8 in path fields, sent raw or percent-encoded."""
    text = draw(_ODD_TEXT | st.text(alphabet="\0\x01\x7f", min_size=1, max_size=5))
    raw = draw(
        st.sampled_from(["quoted", "raw", "broken"]).map(
            lambda how: {
                "quoted": quote(text, safe="").encode(),
                "raw": text.encode("utf-8", "surrogatepass"),
                "broken": b"%FF%FE" + quote(text, safe="").encode() + b"%C0%AE",
            }[how]
        )
    )
    route = draw(
        st.sampled_from(
            [
                ("GET", b"/eureka/apps/" + raw),
                ("GET", b"/eureka/instances/" + raw),
                ("GET", b"/eureka/vips/" + raw),
                ("PUT", b"/eureka/apps/FZ/" + raw),
                ("DELETE", b"/eureka/apps/FZ/" + raw),
                ("PUT", b"/eureka/apps/FZ/" + raw + b"/status?value=DOWN"),
                ("PUT", f"/eureka/apps/FZ/{TARGET_ID}/metadata?".encode() + raw + b"=v"),
                ("PUT", f"/eureka/apps/FZ/{TARGET_ID}/metadata?k=".encode() + raw),
            ]
        )
    )
    method, target = route
    # A metadata key or value is written when XML can carry it, and broken UTF-8 arrives as
    # U+FFFD (Falcon decodes it so), which it can: only a NUL is a sure refusal there.
    if b"metadata" in target and not (b"\0" in raw or b"%00" in raw):
        target = target.replace(raw, b"%00" + raw)
    return Hostile("path", request_bytes(method, target, []), method != "GET")


# -- headers


@st.composite
def huge_headers(draw: st.DrawFn) -> Hostile:
    if draw(st.booleans()):
        size = draw(st.integers(min_value=8 << 10, max_value=2 << 20))
        headers = [b"X-Big: " + b"a" * size]
    else:
        count = draw(st.integers(min_value=100, max_value=20_000))
        headers = [b"X-H%d: v" % n for n in range(count)]
    if draw(st.booleans()):
        headers.append(b"Accept: application/json")
    method, target, body = draw(
        st.sampled_from(
            [
                ("GET", b"/eureka/apps", b""),
                ("PUT", f"/eureka/apps/FZ/{TARGET_ID}/status?value=%00".encode(), b""),
                ("POST", _REGISTER, b"{}"),
            ]
        )
    )
    return Hostile(
        "headers", request_bytes(method, target, [_JSON_TYPE, *headers], body), method != "GET"
    )


def hostile_requests(canary_url: str) -> st.SearchStrategy[Hostile]:
    return st.one_of(
        bad_content_length(),
        lying_content_length(),
        bad_content_encoding(),
        deep_nesting(),
        xml_entities(canary_url),
        odd_paths(),
        huge_headers(),
    )
