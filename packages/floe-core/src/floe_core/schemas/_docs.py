"""Attribute docstrings as the JSON Schema's field descriptions, read only when a schema is made.

pydantic's ``use_attribute_docstrings`` reads and parses every model's source file when the class
is created: about 25 ms at every start of floe, for text that only the JSON Schemas (``floe
schema``, the shipped files) show. Here the same text is read when a schema is generated.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap
from functools import cache
from typing import Any

__all__ = ["attribute_docs"]


def attribute_docs(schema: dict[str, Any], cls: type) -> None:
    """``json_schema_extra`` hook: describe each property by its attribute docstring.

    A description given in ``Field(description=...)`` wins; a subclass's docstring wins over
    its base's, as with pydantic's own ``use_attribute_docstrings``.
    """
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        docs.update(_own_docs(klass))
    fields = getattr(cls, "model_fields", {})
    for name, text in docs.items():
        field = fields.get(name)
        if field is None:
            continue
        prop = properties.get(field.alias or name, properties.get(name))
        if isinstance(prop, dict):
            prop.setdefault("description", text)


@cache
def _own_docs(klass: type) -> dict[str, str]:
    """``{attribute: docstring}`` of the annotated attributes in the class's own body."""
    try:
        source = inspect.getsource(klass)
    except (OSError, TypeError):
        return {}
    tree = ast.parse(textwrap.dedent(source))
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for stmt, following in itertools.pairwise(body):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[stmt.target.id] = inspect.cleandoc(following.value.value)
    return docs
