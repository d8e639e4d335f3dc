"""A PyYAML loader mixin that refuses a mapping repeating a key (PyYAML silently keeps the last value)."""

from __future__ import annotations

from typing import Any


class UniqueKeys:
    """Mixin for a PyYAML loader (`class Loader(UniqueKeys, yaml.SafeLoader)`): a mapping that repeats a key is
    an error naming the key and both lines, where PyYAML silently keeps the last value."""

    def construct_mapping(self, node, deep=False):
        from yaml.constructor import ConstructorError

        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` merges; its keys may be overridden
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line)
            except TypeError:  # an unhashable key: the loader's own error says so
                continue
            if first != key_node.start_mark.line:
                raise ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {first + 1})", key_node.start_mark
                )
        return super().construct_mapping(node, deep)  # type: ignore[misc]
