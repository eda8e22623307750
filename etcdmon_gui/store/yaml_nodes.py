"""Reading the YAML files users may edit by hand (profiles, settings) so that a problem
can name its line: one parse gives both the node tree and the data."""

from __future__ import annotations

from typing import Any

import yaml

#: The C loader when PyYAML has it (ten times faster), the Python one otherwise.
Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compose_and_load(text: str) -> tuple[yaml.Node | None, Any]:
    """One parse: the node tree (for line numbers) and the data constructed from it."""
    loader = Loader(text)
    try:
        root = loader.get_single_node()
        return root, (None if root is None else loader.construct_document(root))
    finally:
        loader.dispose()
