"""Eureka XML: payload trees <-> bytes.

Reading: defusedxml parses the body with DTDs forbidden, so entity expansion ("billion laughs")
and external entities are refused before they are resolved; no Eureka client sends a DTD. The
element tree is then turned into the JSON tree shape (see :mod:`~eureka_embed.codec.readers`):
an element with neither attributes nor children becomes its text, attributes become ``"@name"``
keys and the text beside them ``"$"``, children become keys, and a repeated child becomes a list.
Namespaces are ignored. Nesting deeper than any Eureka payload needs is refused, so a hostile body
cannot exhaust the stack.

Writing: the tree is walked into text with every value escaped (``\\r`` as a character reference,
so it survives the parser's newline normalisation). Documents start with an XML declaration.
Characters XML 1.0 cannot carry at all are replaced by U+FFFD: the register rules refuse them,
so only payloads read from other servers can hold them, and the document must stay well-formed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any, Final
from xml.sax.saxutils import escape, quoteattr

import defusedxml
import defusedxml.ElementTree as DefusedET

from eureka_embed.codec import readers, writers
from eureka_embed.codec.readers import XML_ILLEGAL_CHARS
from eureka_embed.codec.writers import EMPTY_MAP_CLASS
from eureka_embed.errors import DecodeError
from eureka_embed.model import (
    AMAZON_DATA_CENTER_CLASS,
    DEFAULT_DATA_CENTER_CLASS,
    Application,
    Applications,
    InstanceInfo,
)

__all__ = [
    "decode_application",
    "decode_applications",
    "decode_instance",
    "encode_application",
    "encode_applications",
    "encode_instance",
    "instance_element",
    "text_bytes",
]

_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>'

# Eureka's deepest path is applications/application/instance/dataCenterInfo/metadata/key.
_MAX_DEPTH: Final = 32

# The parser turns a raw CR into LF; a reference keeps it.
_TEXT_ENTITIES: Final = {"\r": "&#13;"}

_ASCII_CONTROLS: Final = bytes(c for c in range(32) if c not in (0x09, 0x0A, 0x0D))

# Attribute values are a handful of constants (``enabled``, ``class``): quote each once.
_QUOTED: Final[dict[str, str]] = {
    value: quoteattr(value)
    for value in (
        "true",
        "false",
        DEFAULT_DATA_CENTER_CLASS,
        AMAZON_DATA_CENTER_CLASS,
        EMPTY_MAP_CLASS,
    )
}


# -- writing --------------------------------------------------------------------------------------


def _escape(text: str) -> str:
    # Most values need no escaping; four substring scans are much cheaper than escape() itself.
    if "&" in text or "<" in text or ">" in text or "\r" in text:
        return escape(text, _TEXT_ENTITIES)
    return text


def _write(out: list[str], tag: str, value: Any, compact: bool) -> None:
    """Append ``value`` as ``<tag>`` element(s): a list repeats the element.

    Registry trees hold their instances as model objects (see
    :func:`~eureka_embed.codec.writers.application_tree`): each becomes a tree only while it is
    written, so the trees never pile up for the garbage collector.
    """
    if isinstance(value, Mapping):
        _write_element(out, tag, value, compact)
    elif isinstance(value, InstanceInfo):
        tree = writers.instance_tree(value, compact=compact, for_xml=True)
        _write_element(out, tag, tree, compact)
    elif isinstance(value, list):
        for item in value:
            _write(out, tag, item, compact)
    else:
        out.append(f"<{tag}>{_escape(str(value))}</{tag}>")


def _write_element(out: list[str], tag: str, node: Mapping[str, Any], compact: bool) -> None:
    """Append an element for ``node``: ``@`` keys are attributes, ``$`` the text, others children.

    Leaf strings and numbers are written inline rather than through :func:`_write`: this loop
    runs for some thirty fields of every instance in the registry.
    """
    start = len(out)
    out.append("")  # the start tag, once the attributes are known
    attributes = ""
    text: Any = None
    for key, value in node.items():
        if key[0] == "@":
            quoted = _QUOTED.get(value) or quoteattr(str(value))
            attributes += f" {key[1:]}={quoted}"
        elif key == "$":
            text = value
        elif type(value) is str:
            out.append(f"<{key}>{_escape(value)}</{key}>")
        elif type(value) is int:
            out.append(f"<{key}>{value}</{key}>")
        else:
            _write(out, key, value, compact)
    if text is not None:  # an element with text has no children in our trees
        out[start] = f"<{tag}{attributes}>{_escape(str(text))}</{tag}>"
    elif len(out) == start + 1:
        out[start] = f"<{tag}{attributes}/>"
    else:
        out[start] = f"<{tag}{attributes}>"
        out.append(f"</{tag}>")


def _document(tag: str, tree: Mapping[str, Any], *, compact: bool) -> bytes:
    out = [_DECLARATION]
    _write_element(out, tag, tree, compact)
    return _well_formed_bytes("".join(out))


def _well_formed_bytes(text: str) -> bytes:
    """``text`` as UTF-8, with any character XML 1.0 cannot carry replaced by U+FFFD.

    The markup we write never holds such characters, so this only ever touches values. The fast
    path scans the encoded bytes in C (a regex over the text costs several times more): in
    UTF-8 an ASCII control byte only ever stands for itself, and U+FFFE/U+FFFF have fixed bytes.
    """
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return XML_ILLEGAL_CHARS.sub("\ufffd", text).encode("utf-8")
    if (
        len(data.translate(None, _ASCII_CONTROLS)) != len(data)
        or b"\xef\xbf\xbe" in data
        or b"\xef\xbf\xbf" in data
    ):
        return XML_ILLEGAL_CHARS.sub("\ufffd", text).encode("utf-8")
    return data


def instance_element(instance: InstanceInfo, *, compact: bool = False) -> bytes:
    """``<instance>...</instance>`` without a declaration: a piece of a registry document."""
    out: list[str] = []
    _write_element(
        out, "instance", writers.instance_tree(instance, compact=compact, for_xml=True), compact
    )
    return _well_formed_bytes("".join(out))


def text_bytes(text: str) -> bytes:
    """``text`` escaped as element content, as every document writes it."""
    return _well_formed_bytes(_escape(text))


DECLARATION_BYTES: Final = _DECLARATION.encode()


def encode_instance(instance: InstanceInfo, *, compact: bool = False) -> bytes:
    tree = writers.instance_tree(instance, compact=compact, for_xml=True)
    return _document("instance", tree, compact=compact)


def encode_application(application: Application, *, compact: bool = False) -> bytes:
    tree = writers.application_tree(application)
    return _document("application", tree, compact=compact)


def encode_applications(applications: Applications, *, compact: bool = False) -> bytes:
    tree = writers.applications_tree(applications)
    return _document("applications", tree, compact=compact)


# -- reading --------------------------------------------------------------------------------------


def _parse(body: bytes | str) -> ET.Element:
    try:
        root: ET.Element = DefusedET.fromstring(body, forbid_dtd=True)
    except defusedxml.DTDForbidden:
        raise DecodeError("XML document type declarations (DTDs) are not allowed") from None
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        raise DecodeError("XML entities and external references are not allowed") from None
    except ET.ParseError as exc:
        raise DecodeError(f"body is not well-formed XML: {exc}") from None
    except UnicodeError as exc:  # a str body with lone surrogates, or a codec that failed
        raise DecodeError(f"body is not valid text: {exc}") from None
    except (LookupError, ValueError, Warning) as exc:
        # expat asks Python for the codec the declaration names: unknown (LookupError), one it
        # cannot drive (ValueError, e.g. multi-byte encodings), or one that warns about the body
        # (unicode_escape does; a Warning is raised where warnings are errors, as in our tests).
        raise DecodeError(f"body declares an encoding that cannot be read: {exc}") from None
    return root


def _local(name: str) -> str:
    """``name`` without its ``{namespace}`` prefix."""
    return name.rpartition("}")[2]


def _tree(element: ET.Element, depth: int = 0) -> object:
    if depth > _MAX_DEPTH:
        raise DecodeError(f"XML is nested more than {_MAX_DEPTH} levels deep")
    children = list(element)
    if not children and not element.attrib:
        return element.text or ""
    node: dict[str, object] = {f"@{_local(k)}": v for k, v in element.attrib.items()}
    if not children:
        node["$"] = element.text or ""
        return node
    for child in children:
        key = _local(child.tag)
        value = _tree(child, depth + 1)
        if key not in node:
            node[key] = value
        else:
            existing = node[key]
            if isinstance(existing, list):  # tree values are never lists otherwise
                existing.append(value)
            else:
                node[key] = [existing, value]
    return node


def _root_tree(body: bytes | str, tag: str) -> object:
    root = _parse(body)
    if _local(root.tag) != tag:
        raise DecodeError(f"expected an <{tag}> document, got <{_local(root.tag)}>")
    return _tree(root)


def decode_instance(body: bytes | str, *, now_ms: int, registration: bool) -> InstanceInfo:
    tree = _root_tree(body, "instance")
    return readers.read_instance(tree, "instance", now_ms=now_ms, registration=registration)


def decode_application(body: bytes | str, *, now_ms: int) -> Application:
    tree = _root_tree(body, "application")
    return readers.read_application(tree, "application", now_ms=now_ms)


def decode_applications(
    body: bytes | str, *, now_ms: int, reuse: readers.DecodedInstances | None = None
) -> Applications:
    tree = _root_tree(body, "applications")
    return readers.read_applications(tree, "applications", now_ms=now_ms, reuse=reuse)
