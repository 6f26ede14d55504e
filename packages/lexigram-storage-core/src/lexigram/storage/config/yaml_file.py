"""Reading a YAML config file: UTF-8 only, bounded nesting and alias expansion, no
duplicate keys, every problem a :class:`ConfigError` naming the file (and line).

PyYAML's ``safe_load`` shares an anchored node between its aliases, so a 480-byte
"billion laughs" file loads fast, and then every walk over it (interpolation,
structuring) expands each alias until memory runs out; a document nested 10,000 levels
deep exhausts Python's recursion. The loader here measures the document as it will be
walked, before anything is built from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from lexigram.storage.errors import ConfigError

__all__ = ["MAX_ALIAS_NODES", "MAX_DEPTH", "DecimalInt", "load_yaml_file"]

#: deepest nesting of lists and mappings, aliases expanded.
MAX_DEPTH = 100
#: nodes that aliases may add to a document once expanded (beyond the nodes written).
MAX_ALIAS_NODES = 10_000

_MERGE = "tag:yaml.org,2002:merge"


class DecimalInt(int):
    """An int written in decimal in a YAML file (``644``, not ``0644`` or ``0o644``).

    The config's ``FileMode`` fields refuse it: YAML's ``644`` is the number 644, not
    the permission bits ``0o644`` that were almost certainly meant.
    """


class _Refused(yaml.YAMLError):
    def __init__(self, message: str, mark: yaml.Mark | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _Measure:
    """Size and depth of a node graph with every alias expanded, without expanding it."""

    def __init__(self) -> None:
        self.sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (size, height)
        self.open: set[int] = set()

    def visit(self, node: Node, level: int) -> tuple[int, int]:
        if level > MAX_DEPTH:
            raise _Refused(
                f"nests lists and mappings deeper than {MAX_DEPTH} levels (aliases "
                "expanded): flatten it",
                node.start_mark,
            )
        key = id(node)
        known = self.sizes.get(key)
        if known is not None:
            if level + known[1] > MAX_DEPTH:
                raise _Refused(
                    f"nests lists and mappings deeper than {MAX_DEPTH} levels (aliases "
                    "expanded): flatten it",
                    node.start_mark,
                )
            return known
        if key in self.open:
            raise _Refused(
                "has an alias that refers to the list or mapping holding it (a recursive "
                "structure): write the settings out instead",
                node.start_mark,
            )
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        self.open.add(key)
        size, height = 1, 0
        for child in children:
            child_size, child_height = self.visit(child, level + 1)
            size += child_size
            height = max(height, child_height + 1)
            if size > len(self.sizes) + len(self.open) + MAX_ALIAS_NODES:
                raise _Refused(
                    f"expands its aliases (*name) to more than {MAX_ALIAS_NODES} nodes "
                    "beyond those written (a 'billion laughs' YAML bomb?): write the "
                    "settings out, or use fewer aliases",
                    node.start_mark,
                )
        self.open.discard(key)
        self.sizes[key] = (size, height)
        return size, height


class _ConfigLoader(yaml.SafeLoader):
    """``SafeLoader`` that bounds depth and alias expansion and refuses duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    # The scanner is bounded too: PyYAML's simple-key bookkeeping makes 10,000 nested
    # "[" cost seconds before the composer sees the first of them.
    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise _Refused(
                f"nests lists and mappings deeper than {MAX_DEPTH} levels: flatten it",
                self.get_mark(),
            )
        super().fetch_flow_collection_start(TokenClass)

    def add_indent(self, column: int) -> bool:
        if len(self.indents) >= MAX_DEPTH:
            raise _Refused(
                f"nests lists and mappings deeper than {MAX_DEPTH} levels: flatten it",
                self.get_mark(),
            )
        return super().add_indent(column)

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(
                    f"nests lists and mappings deeper than {MAX_DEPTH} levels: flatten it",
                    self.get_mark(),
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        node: MappingNode = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode) or key.tag == _MERGE:
                continue
            ident = (key.tag, key.value)
            line = key.start_mark.line + 1
            if ident in seen:
                name = key.value if len(key.value) <= 80 else key.value[:77] + "..."
                raise _Refused(
                    f"has the key {name!r} twice in one mapping (lines {seen[ident]} and "
                    f"{line}); YAML would keep only the last: remove one",
                    key.start_mark,
                )
            seen[ident] = line
        return node

    def get_single_node(self) -> Node | None:
        node: Node | None = super().get_single_node()
        if node is not None:
            _Measure().visit(node, 1)
        return node

    def construct_decimal_aware_int(self, node: ScalarNode) -> int:
        value: int = self.construct_yaml_int(node)
        digits = str(node.value).replace("_", "").lstrip("+-")
        if digits.isdigit() and (digits == "0" or not digits.startswith("0")):
            return DecimalInt(value)
        return value


_ConfigLoader.add_constructor("tag:yaml.org,2002:int", _ConfigLoader.construct_decimal_aware_int)


def load_yaml_file(path: str | Path) -> Any:
    """The document of a YAML file, or :class:`ConfigError` naming the file."""
    file = Path(path)
    name = repr(str(file))
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {name}: {exc.strerror or exc}: check the path"
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"config file {name} is not UTF-8 text (invalid byte at line {line}): save it as UTF-8"
        ) from None
    loader: _ConfigLoader | None = None
    try:
        loader = _ConfigLoader(text)
        return loader.get_single_data()
    except _Refused as exc:
        raise ConfigError(f"config file {name} {exc.message}{_where(exc.mark)}") from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise ConfigError(
            f"config file {name} is not valid YAML: it holds a control character YAML does "
            f"not allow (U+{ord(str(exc.character)[:1] or ' '):04X}, line {line}): remove it"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None)
        reason = f": {problem}" if problem else ""
        raise ConfigError(f"config file {name} is not valid YAML{reason}{_where(mark)}") from None
    except RecursionError:  # a last line of defence: the bounds above should prevent it
        raise ConfigError(f"config file {name} nests too deeply: flatten it") from None
    finally:
        if loader is not None:
            loader.dispose()


def _where(mark: yaml.Mark | None) -> str:
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
