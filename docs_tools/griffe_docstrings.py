"""A griffe extension for the API reference (mkdocs.yml: mkdocstrings' ``extensions``).

* Sphinx roles in docstrings (``:class:`~lexigram.storage.X```, ``:meth:``, ``:func:``,
  ``:attr:``, ``:exc:``, ``:data:``, ``:mod:``, ``:obj:``) become cross-references to
  the documented object (code text when the target is not in the site), so the Markdown
  reference shows no raw role.
* A public method of a class of ``INHERITS`` shows the docstring of the protocol's
  method of the same name (its parameters, errors and example: the contract, written
  once, in protocol.py).
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

__all__ = ["ROLE", "DocstringsExtension", "convert_roles"]

ROLE = re.compile(r":(?:py:)?(class|meth|func|attr|exc|data|mod|obj):`(~?)([^`<>]+?)`")

#: implementation class -> the protocol whose method docstrings it shows.
INHERITS = {
    "lexigram.storage.store.BlobStore": "lexigram.storage.protocol.BlobStoreProtocol",
}


def convert_roles(text: str, scope: str = "") -> str:
    """``text`` with every role replaced by an optional autoref: a link when the target
    is documented, code text otherwise. A name without dots is taken in ``scope``."""

    def replace(match: re.Match[str]) -> str:
        role, short, target = match.group(1), match.group(2), match.group(3).strip()
        target = target.lstrip(".")
        shown = target.rsplit(".", 1)[-1] if short else target
        if role in ("meth", "func"):
            shown += "()"
        identifier = f"{scope}.{target}" if scope and "." not in target else target
        return (
            f'<autoref identifier="{html.escape(identifier)}" optional>'
            f"<code>{html.escape(shown)}</code></autoref>"
        )

    return ROLE.sub(replace, text)


def _walk(obj: griffe.Object) -> Any:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)  # type: ignore[arg-type]


class DocstringsExtension(griffe.Extension):
    """See the module's docstring."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        objects = list(_walk(pkg))
        by_path = {o.path: o for o in objects}
        for cls_path, proto_path in INHERITS.items():
            cls, proto = by_path.get(cls_path), by_path.get(proto_path)
            if cls is None or proto is None:
                continue
            for name, member in cls.members.items():
                source = proto.members.get(name)
                if name.startswith("_") or member.is_alias or source is None:
                    continue
                if source.docstring is not None:
                    member.docstring = griffe.Docstring(
                        source.docstring.value,
                        lineno=source.docstring.lineno,
                        endlineno=source.docstring.endlineno,
                        parent=member,
                        parser=source.docstring.parser,
                        parser_options=source.docstring.parser_options,
                    )
        for obj in objects:
            if obj.docstring is not None and ":" in obj.docstring.value:
                obj.docstring.value = convert_roles(obj.docstring.value, obj.module.path)
