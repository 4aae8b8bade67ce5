"""From the data's columns to the records a destination receives: renames, nesting, constants.

``field_mapping`` renames columns. A target with dots (``ltv: properties.ltv``) puts the
column inside an object: the engine builds it in Arrow as a struct column (no copy of the
values), so a sink encodes nested records column by column as it does flat ones. A dot that
is part of a name is written ``\\.`` (``utm\\.source``). ``static_fields`` add a constant
column each (``{"attributes.type": "Contact"}`` nests the same way), dictionary-encoded: one
value and an index per row. Static fields come first in each record, in the order written,
then the columns in the data's order; an object sits where its first field would.

Only a sink whose capabilities say ``nested_fields`` gets struct columns; for any other, a
dotted target is a configuration error (``floe validate`` reports it; escape the dots to name
a flat field).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from floe_core.plugins.sink import StaticValue, field_path_conflicts, split_field_path
from floe_core.sinks.errors import SinkConfigurationError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["FieldMapping"]

# A record's layout: field name -> a leaf (index into the batch's columns, or ``-1 - i`` for
# the i-th static value) or the layout of an object.
_Layout = dict[str, Union[int, "_Layout"]]


@dataclass(frozen=True)
class FieldMapping:
    """Source columns -> destination records, checked against the data's schema.

    Columns the mapping does not name keep their own name (dots included: only mapping
    targets and static field names nest).

    Attributes:
        source_names: The data's columns, in order.
        target_names: Each column's destination field, as written in the mapping (dotted
            for a nested one).
        static_fields: Constant fields added to every record, in order.
    """

    source_names: tuple[str, ...]
    target_names: tuple[str, ...]
    static_fields: tuple[tuple[str, StaticValue], ...] = ()
    _layout: _Layout | None = field(default=None, compare=False, repr=False)
    _schema: pa.Schema | None = field(default=None, compare=False, repr=False)
    _constants: dict[int, list[pa.Array]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def for_schema(
        cls,
        schema: pa.Schema,
        mapping: Mapping[str, str] | None,
        *,
        static_fields: Mapping[str, StaticValue] | None = None,
        nested: bool = True,
        destination: str = "",
        sink_type: str = "",
    ) -> FieldMapping:
        """Check ``mapping`` and ``static_fields`` against ``schema`` and build the records.

        Args:
            schema: The data's schema.
            mapping: Source column -> destination field (dots nest).
            static_fields: Destination field (dots nest) -> constant value.
            nested: Whether the sink takes nested records (its ``nested_fields``
                capability); when not, a dotted target is an error.
            destination: Destination name, for errors.
            sink_type: Sink type, for errors.

        Raises:
            SinkConfigurationError: A mapped column is missing from the data, two fields
                would get the same name, a field would be both a value and an object, or a
                field nests for a sink that takes flat rows only.
        """
        import pyarrow as pa

        def error(message: str, hint: str) -> SinkConfigurationError:
            return SinkConfigurationError(
                message, destination=destination, sink_type=sink_type, hint=hint
            )

        names = tuple(schema.names)
        mapping = dict(mapping or {})
        statics = dict(static_fields or {})
        missing = [column for column in mapping if column not in names]
        if missing:
            from floe_core.spelling import did_you_mean

            raise error(
                f"field_mapping names column(s) {', '.join(map(repr, missing))} that the data "
                f"does not have; available columns: {', '.join(names)}",
                did_you_mean(missing, names)
                + "fix the field_mapping keys to use source column names",
            )
        targets = tuple(mapping.get(name, name) for name in names)
        clashes = sorted({t for t in targets if targets.count(t) > 1})
        if clashes:
            raise error(
                f"after field_mapping, several columns are named {', '.join(map(repr, clashes))}",
                "map each column to a distinct destination field",
            )
        try:
            paths = [
                split_field_path(t) if n in mapping else (t,)
                for n, t in zip(names, targets, strict=True)
            ]
            static_paths = [split_field_path(name) for name in statics]
        except ValueError as exc:
            raise error(
                f"invalid destination field: {exc}",
                "separate nested names with single dots, e.g. properties.ltv (a literal dot: \\.)",
            ) from exc
        entries = [
            *(
                (f"static field {name!r}", path)
                for name, path in zip(statics, static_paths, strict=True)
            ),
            *((f"column {name!r}", path) for name, path in zip(names, paths, strict=True)),
        ]
        conflicts = field_path_conflicts(entries)
        if conflicts:
            what, message, hint = conflicts[0]
            raise error(f"{what} {message}", hint)
        if not nested:
            deep = [what for what, path in entries if len(path) > 1]
            if deep:
                raise error(
                    f"{', '.join(deep)} would be nested inside an object, but this sink writes "
                    "flat rows",
                    "escape the dots to name a flat field (`a\\.b` is the field 'a.b'), or "
                    "send to a sink type that takes nested records",
                )
        plain = all(len(path) == 1 for path in paths) and not statics
        if plain:
            flat = tuple(path[0] for path in paths)
            return cls(source_names=names, target_names=flat)
        layout: _Layout = {}
        for index, path in [
            *((-1 - i, path) for i, path in enumerate(static_paths)),
            *enumerate(paths),
        ]:
            node = layout
            for part in path[:-1]:
                child = node.setdefault(part, {})
                assert isinstance(child, dict)  # conflicts were refused above
                node = child
            node[path[-1]] = index
        try:
            scalars = [pa.scalar(value) for value in statics.values()]
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise error(
                f"a static field's value cannot be sent: {exc}",
                "use a string, a 64-bit number, true/false or null",
            ) from exc
        constants_types = [
            pa.null() if value is None else pa.dictionary(pa.int32(), scalar.type)
            for value, scalar in zip(statics.values(), scalars, strict=True)
        ]
        target = pa.schema(_fields(layout, list(schema), constants_types), metadata=schema.metadata)
        return cls(
            source_names=names,
            target_names=targets,
            static_fields=tuple(statics.items()),
            _layout=layout,
            _schema=target,
        )

    @property
    def renames(self) -> bool:
        """True when at least one column gets a new name or a record gets any new shape."""
        return self._layout is not None or self.source_names != self.target_names

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch as the destination's records (zero-copy for the data's own columns)."""
        import pyarrow as pa

        if self._layout is None or self._schema is None:
            if not self.renames:
                return batch
            return batch.rename_columns(list(self.target_names))
        constants = self._constant_columns(batch.num_rows)
        arrays = _arrays(self._layout, batch.columns, constants, self._schema)
        return pa.RecordBatch.from_arrays(arrays, schema=self._schema)

    def target_schema(self, schema: pa.Schema) -> pa.Schema:
        """``schema`` with destination field names (and objects, and static fields)."""
        import pyarrow as pa

        if self._schema is not None:
            return self._schema
        if not self.renames:
            return schema
        return pa.schema(
            [field.with_name(name) for field, name in zip(schema, self.target_names, strict=True)],
            metadata=schema.metadata,
        )

    def _constant_columns(self, rows: int) -> list[pa.Array]:
        """The static values, ``rows`` times each (kept for the next batch of that size)."""
        import pyarrow as pa

        cached = self._constants.get(rows)
        if cached is None:
            # One value and ``rows`` indexes to it: little memory, and an encoder can see that
            # every row holds the same value (json_fast writes it as literal text).
            zeros = pa.repeat(pa.scalar(0, pa.int32()), rows)
            cached = [
                pa.nulls(rows)
                if value is None
                else pa.DictionaryArray.from_arrays(zeros, pa.array([value]))
                for _, value in self.static_fields
            ]
            if len(self._constants) > 4:  # batches all have one size but the last
                self._constants.clear()
            self._constants[rows] = cached
        return cached


def _fields(
    layout: _Layout, columns: list[pa.Field], constants: list[pa.DataType]
) -> list[pa.Field]:
    import pyarrow as pa

    fields = []
    for name, node in layout.items():
        if isinstance(node, dict):
            fields.append(pa.field(name, pa.struct(_fields(node, columns, constants))))
        elif node >= 0:
            fields.append(columns[node].with_name(name))
        else:
            fields.append(pa.field(name, constants[-1 - node]))
    return fields


def _arrays(
    layout: _Layout,
    columns: list[pa.Array],
    constants: list[pa.Array],
    fields: pa.Schema | pa.StructType,
) -> list[pa.Array]:
    import pyarrow as pa

    arrays: list[pa.Array] = []
    for position, node in enumerate(layout.values()):
        if isinstance(node, dict):
            struct_type = fields.field(position).type
            children = _arrays(node, columns, constants, struct_type)
            arrays.append(pa.StructArray.from_arrays(children, fields=list(struct_type)))
        elif node >= 0:
            arrays.append(columns[node])
        else:
            arrays.append(constants[-1 - node])
    return arrays
