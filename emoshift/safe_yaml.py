"""Reading YAML that a user or a run folder supplies: plain data, no aliases.

``yaml.safe_load`` builds no Python objects beyond plain data, but it still expands
aliases: a few hundred bytes of anchors that each repeat the previous one nine times (a
"billion laughs") become billions of list items, and everything that walks the result
grows without bound. emoshift's configs never need anchors and aliases, so every YAML
text is read here, and an alias (``*name``, merge keys ``<<: *name`` included) is a
:class:`yaml.YAMLError` that names its line, before anything is expanded.

Example:
    >>> load_yaml("a: &x [1, 2]\\nb: 3")
    {'a': [1, 2], 'b': 3}
    >>> try:
    ...     load_yaml("a: &x [1, 2]\\nb: *x")
    ... except yaml.YAMLError as error:
    ...     print(str(error).splitlines()[0])
    YAML alias *x refused (line 2, column 4): emoshift reads plain data only; write the value out
"""

from __future__ import annotations

from typing import Any

import yaml


class AliasRefused(yaml.YAMLError):
    """The YAML text holds an alias; the message names it and its line."""


class _NoAliasLoader(yaml.SafeLoader):
    """``SafeLoader`` that stops at the first alias event, before composing it."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            mark = event.start_mark
            raise AliasRefused(
                f"YAML alias *{event.anchor} refused (line {mark.line + 1}, column "
                f"{mark.column + 1}): emoshift reads plain data only; write the value out"
            )
        return super().compose_node(parent, index)


def load_yaml(text: str) -> Any:
    """The plain data of a YAML ``text`` (like ``yaml.safe_load``), aliases refused.

    Raises:
        yaml.YAMLError: the text is not valid YAML, or it holds an alias
            (:class:`AliasRefused`).
    """
    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
