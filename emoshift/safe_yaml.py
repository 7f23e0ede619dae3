"""Reading YAML that a user or a run folder supplies: plain data of a bounded size.

``yaml.safe_load`` builds no Python objects beyond plain data, but it follows aliases: a
few hundred bytes of anchors that each repeat the previous one nine times (a "billion
laughs") load as a structure of billions of items, and everything that walks it (config
checks, a parameter grid, a JSON dump) grows without bound. Aliases have honest uses (a
config that shares one encoder setting between methods), so they are kept, but the
document is measured as if every alias were written out, before any Python object is
built: past :data:`MAX_VALUES` values (or in a recursive alias, which never ends) it is
a :class:`yaml.YAMLError` that says so.

Example:
    >>> load_yaml("a: &x [1, 2]\\nb: *x")
    {'a': [1, 2], 'b': [1, 2]}
    >>> laughs = "a: &a [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]\\n" + "\\n".join(
    ...     f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]" for p, c in zip("abcde", "bcdef"))
    >>> try:
    ...     load_yaml(laughs)
    ... except yaml.YAMLError as error:
    ...     print(str(error).split(" (")[0])
    YAML aliases expand this text past 100000 values
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_VALUES = 100_000
"""Most scalars, lists and mappings a YAML text may hold once its aliases are written
out; emoshift's own configs hold a few hundred."""


class ExpansionError(yaml.YAMLError):
    """A YAML text whose aliases expand past :data:`MAX_VALUES` values."""


def _check_expanded_size(root: yaml.Node) -> None:
    """Count the nodes of ``root`` with every alias written out; stop past the bound."""
    stack, count = [root], 0
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_VALUES:
            mark = node.start_mark
            raise ExpansionError(
                f"YAML aliases expand this text past {MAX_VALUES} values (still counting "
                f"at line {mark.line + 1}, column {mark.column + 1}); write the config "
                "without aliases nested in aliases"
            )
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(part for pair in node.value for part in pair)


def load_yaml(text: str) -> Any:
    """The plain data of a YAML ``text`` (like ``yaml.safe_load``), of bounded size.

    Raises:
        yaml.YAMLError: the text is not valid YAML, or its aliases expand past
            :data:`MAX_VALUES` values (:class:`ExpansionError`).
    """
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _check_expanded_size(root)
        return loader.construct_document(root)
    finally:
        loader.dispose()
