"""Stream a Gold table out of an Iceberg catalog as Arrow record batches.

``IcebergSource`` opens the catalog and the table once, pins the table's current snapshot, and
hands out ``pyarrow.RecordBatchReader`` objects built on pyiceberg's ``scan()``: data files are
read one after another in a background thread, in batches of at most ``READ_BATCH_ROWS`` rows
(``files.py``), a few batches ahead of the reader, so memory stays flat however large the
table, its files and their row groups are. Column projection and row filters (pyiceberg
expression strings such as ``"segment = 'champions' and lifetime_value > 100"``) are pushed into
the scan.

pyiceberg and pyarrow are imported only when a source is opened.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from floe_core.errors import NoSuchSourceTableError, SourceError
from floe_core.iceberg.catalog import (
    catalog_call,
    catalog_errors,
    catalog_name,
    catalog_properties,
    catalog_secrets,
    describe_catalog,
    open_catalog,
)
from floe_core.spelling import closest_name, did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import DataScan, FileScanTask, Table
    from pyiceberg.table.snapshots import Snapshot

    from floe_core.iceberg.files import ScanFiles

__all__ = ["DataFile", "IcebergSource", "catalog_properties", "parse_table_identifier"]

_MAX_LISTED = 20
#: Batches read ahead of the consumer (each at most ``files.READ_BATCH_ROWS`` rows).
_READ_AHEAD_BATCHES = 2


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names[:_MAX_LISTED])


def parse_table_identifier(table: str) -> tuple[str, ...]:
    """Split ``"namespace.table"`` (namespaces may be nested: ``"a.b.table"``) into parts.

    Raises:
        SourceError: The name has no namespace or an empty part.
    """
    parts = tuple(table.split(".")) if isinstance(table, str) else ()
    if len(parts) < 2 or not all(part.strip() for part in parts):
        raise SourceError(
            f"source table {table!r} is not of the form 'namespace.table'",
            hint="name the Iceberg table with its namespace, e.g. source_table: gold.customers",
        )
    return parts


@dataclass(frozen=True)
class DataFile:
    """One data file of a snapshot, as its manifest describes it."""

    path: str
    size_bytes: int
    rows: int


class IcebergSource:
    """One Iceberg table, pinned at the snapshot that was current when it was opened.

    Args:
        catalog_config: The catalog section (see ``floe_core.iceberg.catalog``), secrets resolved.
        table: ``"namespace.table"``.
        columns: The columns this source delivers, in order (``schema``, ``columns`` and
            ``batches`` see only them; the others are never read); ``None``: all.
        exclude_columns: Columns this source leaves out (not with ``columns``).
        row_filter: Only the rows matching this pyiceberg expression are the source's rows
            (a partition of a destination): every read and :attr:`row_count` apply it.
        snapshot_id: Pin this snapshot instead of the current one (a worker reading the
            files of a run planned elsewhere).

    Raises:
        NoSuchSourceTableError: The table or its namespace does not exist in the catalog.
        SourceError: The catalog cannot be opened or reached, or ``columns`` /
            ``exclude_columns`` name a column the table does not have, or ``row_filter``
            does not parse or names a column the table lacks, or ``snapshot_id`` is not a
            snapshot of the table (expired).

    Use it as a context manager (or call :meth:`close`) to release catalog connections.
    """

    def __init__(
        self,
        catalog_config: Mapping[str, Any],
        table: str,
        *,
        columns: Sequence[str] | None = None,
        exclude_columns: Sequence[str] | None = None,
        row_filter: str | None = None,
        snapshot_id: int | None = None,
    ) -> None:
        self._identifier = parse_table_identifier(table)
        self._name = table
        self._catalog_name = catalog_name(catalog_config)
        self._where = describe_catalog(catalog_config)
        self._secrets = catalog_secrets(catalog_config)
        self._config = dict(catalog_config)
        self._catalog: Catalog = open_catalog(catalog_config)
        self._selected: list[str] | None = None
        try:
            self._table: Table = self._load_table()
            self._selected = self._selection(columns, exclude_columns)
        except BaseException:
            self.close()
            raise
        try:
            self._snapshot = self._pin(snapshot_id)
            self._scope = self._parse_filter(row_filter)
        except BaseException:
            self.close()
            raise
        self._scoped = row_filter is not None and bool(row_filter.strip())
        self._scoped_rows: int | None = None

    def _selection(
        self, columns: Sequence[str] | None, exclude_columns: Sequence[str] | None
    ) -> list[str] | None:
        if columns is not None and exclude_columns is not None:
            raise SourceError("give columns or exclude_columns, not both")
        if columns is not None:
            return self._check_columns(columns, what="columns")
        if exclude_columns is None:
            return None
        left_out = self._check_columns(exclude_columns, what="exclude_columns") or []
        kept = [name for name in self._table_columns if name not in left_out]
        if not kept:
            raise SourceError(
                f"exclude_columns leaves no column of table '{self._name}' to send",
                hint="exclude fewer columns",
            )
        return kept

    def _pin(self, snapshot_id: int | None) -> Snapshot | None:
        if snapshot_id is None:
            return self._table.current_snapshot()
        snapshot = self._table.metadata.snapshot_by_id(snapshot_id)
        if snapshot is None:
            raise SourceError(
                f"table '{self._name}' has no snapshot {snapshot_id} in the {self._where}",
                hint="the snapshot expired while the run was planned; run again",
            )
        return snapshot

    def _load_table(self) -> Table:
        from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

        try:
            return catalog_call(
                lambda: self._catalog.load_table(self._identifier),
                self._where,
                self._secrets,
                config=self._config,
            )
        except (NoSuchTableError, NoSuchNamespaceError) as exc:
            raise self._missing_table() from exc

    def _missing_table(self) -> NoSuchSourceTableError:
        namespace = self._identifier[:-1]
        namespace_name = ".".join(namespace)
        try:
            if not self._catalog.namespace_exists(namespace):
                known = sorted(".".join(ns) for ns in self._catalog.list_namespaces())
                others = self._other_catalog_names() if not known else ([], [])
                if any(others):
                    return self._other_catalogs_error(namespace_name, others)
                listing = ", ".join(known[:_MAX_LISTED]) or "none"
                return NoSuchSourceTableError(
                    f"namespace '{namespace_name}' (of table '{self._name}') does not exist in "
                    f"the {self._where}",
                    hint=did_you_mean(namespace_name, known)
                    + f"check source_table in floe.yaml; namespaces in this catalog: {listing}",
                )
            tables = sorted(".".join(ident) for ident in self._catalog.list_tables(namespace))
        except Exception:  # listing is a courtesy; the missing table is the error
            return NoSuchSourceTableError(
                f"table '{self._name}' does not exist in the {self._where}",
                hint="check source_table in floe.yaml and the catalog in manifest.yaml",
            )
        listing = ", ".join(tables[:_MAX_LISTED]) or "none"
        return NoSuchSourceTableError(
            f"table '{self._name}' does not exist in the {self._where}",
            hint=self._closest_table(tables, namespace_name)
            + f"check source_table in floe.yaml; tables in namespace '{namespace_name}': "
            f"{listing}",
        )

    def _closest_table(self, tables: list[str], namespace: str) -> str:
        """Did-you-mean for the missing table, by the spelling of its name within the
        namespace (the namespace all of them share would make every name look close), else
        the namespace's only table."""
        names = {table.rsplit(".", 1)[-1]: table for table in tables}
        close = closest_name(self._identifier[-1], list(names))
        if close is not None:
            return f"did you mean '{names[close]}'? "
        if len(tables) == 1:
            return f"did you mean '{tables[0]}' (the only table in namespace '{namespace}')? "
        return ""

    def _other_catalog_names(self) -> tuple[list[str], list[str]]:
        """The catalog names a SQL catalog's database holds, other than ours: those with
        tables, and those with namespaces only.

        pyiceberg's SQL catalog keeps every catalog's tables in one database, keyed by catalog
        name: a manifest whose ``catalog.name`` differs from the name the tables were created
        under sees an empty catalog.
        """
        engine = getattr(self._catalog, "engine", None)
        if self._config.get("type") != "sql" or engine is None:
            return [], []
        import sqlalchemy as sa

        tables = sa.text("SELECT DISTINCT catalog_name FROM iceberg_tables")
        namespaces = sa.text("SELECT DISTINCT catalog_name FROM iceberg_namespace_properties")
        try:
            with engine.connect() as conn:
                with_tables = {str(row[0]) for row in conn.execute(tables)}
                with_namespaces = {str(row[0]) for row in conn.execute(namespaces)}
        except Exception:  # an older layout, or no such tables: nothing to suggest
            return [], []
        with_tables.discard(self._catalog_name)
        with_namespaces.discard(self._catalog_name)
        return sorted(with_tables), sorted(with_namespaces - with_tables)

    def _other_catalogs_error(
        self, namespace: str, others: tuple[list[str], list[str]]
    ) -> NoSuchSourceTableError:
        with_tables, namespaces_only = others
        held = []
        if with_tables:
            held.append(f"tables of catalog(s) {_quoted(with_tables)}")
        if namespaces_only:
            held.append(f"only namespaces (no tables) of catalog(s) {_quoted(namespaces_only)}")
        example = (with_tables or namespaces_only)[0]
        return NoSuchSourceTableError(
            f"namespace '{namespace}' (of table '{self._name}') does not exist in the "
            f"{self._where}: that catalog holds no tables, and its database holds "
            + ", and ".join(held),
            hint=f"set catalog.name in manifest.yaml to the name the tables were created under "
            f"(e.g. name: {example}); a SQL catalog's tables belong to a catalog name",
        )

    @property
    def table_name(self) -> str:
        """The table as given, ``namespace.table``."""
        return self._name

    @property
    def catalog_name(self) -> str:
        """The catalog's name."""
        return self._catalog_name

    @property
    def table(self) -> Table:
        """The underlying pyiceberg table (metadata as of opening)."""
        return self._table

    @property
    def schema(self) -> pa.Schema:
        """Arrow schema of the columns this source delivers, as :meth:`batches` gives them."""
        import pyarrow as pa
        from pyiceberg.io.pyarrow import schema_to_pyarrow

        schema = schema_to_pyarrow(self._table.schema(), include_field_ids=False)
        if self._selected is None:
            return schema
        return pa.schema([schema.field(name) for name in self._selected])

    @property
    def columns(self) -> list[str]:
        """The columns this source delivers (by default every top-level column, in table order)."""
        return list(self._selected) if self._selected is not None else self._table_columns

    @property
    def _table_columns(self) -> list[str]:
        return [field.name for field in self._table.schema().fields]

    @property
    def snapshot_id(self) -> int | None:
        """The pinned snapshot (``None`` for a table that never had data)."""
        return self._snapshot.snapshot_id if self._snapshot is not None else None

    @property
    def row_count(self) -> int | None:
        """Rows in the pinned snapshot, from its summary (``None`` if the summary lacks it).

        With a ``row_filter``, the rows matching it: counted from file statistics where they
        decide, else by reading the files the filter cannot rule out (once, then kept).
        """
        if self._snapshot is None:
            return 0
        if self._scoped:
            if self._scoped_rows is None:
                scan = self._table.scan(row_filter=self._scope, snapshot_id=self.snapshot_id)
                with catalog_errors(self._where, self._secrets, config=self._config):
                    self._scoped_rows = scan.count()
            return self._scoped_rows
        summary = self._snapshot.summary
        total = summary.additional_properties.get("total-records") if summary is not None else None
        return int(total) if total is not None else None

    def data_files(self, snapshot_id: int | None = None) -> list[str] | None:
        """Paths of the data files of ``snapshot_id`` (default: the pinned one).

        Returns:
            The paths; ``None`` when the snapshot is unknown (expired) or a file of it has
            delete files, so that its rows are not simply the rows of its files.

        Raises:
            SourceError: The catalog cannot be read, or the table has equality deletes.
        """
        snapshot_id = self.snapshot_id if snapshot_id is None else snapshot_id
        if snapshot_id is None:
            return []
        if self._table.metadata.snapshot_by_id(snapshot_id) is None:
            return None
        tasks = self._plan(self._table.scan(snapshot_id=snapshot_id))
        if any(task.delete_files for task in tasks):
            return None
        return [task.file.file_path for task in tasks]

    def plan_data_files(self, files: Collection[str] | None = None) -> list[DataFile]:
        """The data files of the pinned snapshot with their sizes, from the scan's plan.

        A file with delete files is read together with them wherever it is read (its scan
        task carries them), so its size counts theirs too.

        Args:
            files: Only these paths (as :meth:`data_files` gives them); ``None``: every file.

        Raises:
            SourceError: The catalog cannot be read, or the table has equality deletes.
        """
        if self.snapshot_id is None:
            return []
        tasks = self._plan(self._table.scan(snapshot_id=self.snapshot_id))
        if files is not None:
            wanted = set(files)
            tasks = [task for task in tasks if task.file.file_path in wanted]
        return [
            DataFile(
                task.file.file_path,
                task.file.file_size_in_bytes
                + sum(delete.file_size_in_bytes for delete in task.delete_files),
                task.file.record_count,
            )
            for task in tasks
        ]

    def _plan(self, scan: DataScan) -> list[FileScanTask]:
        """The scan's file tasks, each with the delete files that apply to it.

        Raises:
            SourceError: The catalog cannot be read, or the table has equality delete files
                (pyiceberg cannot apply them yet, so its rows cannot be read correctly).
        """
        try:
            with catalog_errors(self._where, self._secrets, config=self._config):
                return list(scan.plan_files())
        except (ValueError, NotImplementedError) as exc:
            if "equality delete" not in str(exc):
                raise
            raise SourceError(
                f"table '{self._name}' has equality delete files, which floe's Iceberg "
                "reader (pyiceberg) cannot apply yet; its rows cannot be read correctly",
                hint="compact the table (rewrite its data files, e.g. Spark's "
                "rewrite_data_files), or write deletes as position deletes",
            ) from exc

    def batches(
        self,
        columns: Sequence[str] | None = None,
        row_filter: str | None = None,
        files: Collection[str] | None = None,
        snapshot_id: int | None = None,
    ) -> pa.RecordBatchReader:
        """Stream the pinned snapshot (or another one of the table) as record batches.

        Args:
            columns: Columns to read, in the order wanted; ``None`` reads all the columns
                this source delivers.
            row_filter: A pyiceberg expression string, e.g. ``"is_active = true"``.
            files: Read only these data files of the snapshot (paths as
                :meth:`data_files` gives them); ``None`` reads all of them.
            snapshot_id: Read this snapshot instead of the pinned one (the files a later
                snapshot removed are still readable there).

        Returns:
            A reader that pulls data files one at a time, in batches of at most
            ``READ_BATCH_ROWS`` rows, read ahead in a background thread.

        Raises:
            SourceError: A column or the filter names something the table lacks, or the filter
                does not parse. Read errors while iterating are raised as ``SourceError`` too.
        """
        import pyarrow as pa
        from pyiceberg.expressions import And
        from pyiceberg.io.pyarrow import schema_to_pyarrow

        from floe_core.iceberg.files import ScanFiles

        selected = self._check_columns(columns) if columns is not None else self._selected
        expression = And(self._scope, self._parse_filter(row_filter))
        scan = self._table.scan(
            row_filter=expression,
            selected_fields=tuple(selected) if selected is not None else ("*",),
            snapshot_id=self.snapshot_id if snapshot_id is None else snapshot_id,
        )
        tasks = self._plan(scan)
        if files is not None:
            wanted = set(files)
            tasks = [task for task in tasks if task.file.file_path in wanted]
        projection = scan.projection()
        schema = schema_to_pyarrow(projection, include_field_ids=False)
        if selected is not None:
            schema = pa.schema([schema.field(name) for name in selected])
        return pa.RecordBatchReader.from_batches(
            schema, self._stream(ScanFiles(scan), tasks, schema, selected)
        )

    def _stream(
        self,
        files: ScanFiles,
        tasks: list[FileScanTask],
        schema: pa.Schema,
        selected: list[str] | None,
    ) -> Iterator[pa.RecordBatch]:
        from floe_core.iceberg.prefetch import prefetch

        # pyiceberg's own batch reader submits every file to its thread pool at once and keeps
        # each finished file in memory until it is consumed, so memory grows with the table.
        # Here one thread reads the files in order, small batches at a time, and stays at most
        # _READ_AHEAD_BATCHES batches ahead: reading overlaps sending, memory stays bounded.
        def read() -> Iterator[pa.RecordBatch]:
            for task in tasks:
                for batch in files.batches(task):
                    batch = batch.select(selected) if selected is not None else batch
                    yield batch if batch.schema.equals(schema) else batch.cast(schema)

        try:
            yield from prefetch(read(), _READ_AHEAD_BATCHES, name="floe-iceberg-read")
        except OSError as exc:
            raise SourceError(
                f"reading table '{self._name}' from the {self._where} failed: {exc}",
                hint="a data file of the table is missing or unreadable; check the warehouse",
            ) from exc

    def _check_columns(self, columns: Sequence[str] | None, what: str = "") -> list[str] | None:
        if columns is None:
            return None
        if isinstance(columns, str):
            raise SourceError(f"columns must be a list of names, got the string {columns!r}")
        wanted = list(columns)
        if not wanted:
            raise SourceError(
                f"no columns selected from table '{self._name}'",
                hint="pass None to read every column, or name at least one",
            )
        duplicates = sorted({name for name in wanted if wanted.count(name) > 1})
        if duplicates:
            raise SourceError(
                f"column(s) selected twice from '{self._name}': {', '.join(duplicates)}"
            )
        available = self.columns if not what else self._table_columns
        missing = [name for name in wanted if name not in available]
        if missing:
            names = ", ".join(map(repr, missing))
            problem = (
                f"{what} names column(s) {names} that table '{self._name}' does not have"
                if what
                else f"table '{self._name}' has no column(s) {names}"
            )
            raise SourceError(
                problem,
                hint=did_you_mean(missing, available)
                + f"columns of '{self._name}': {', '.join(available)}",
            )
        return wanted

    def _parse_filter(self, row_filter: str | None) -> BooleanExpression:
        from pyiceberg.expressions import AlwaysTrue
        from pyiceberg.expressions.parser import parse
        from pyiceberg.expressions.visitors import bind

        if row_filter is None or not row_filter.strip():
            return AlwaysTrue()
        try:
            expression = parse(row_filter)
        except Exception as exc:  # pyparsing raises its own ParseException family
            raise SourceError(
                f"row filter {row_filter!r} is not a valid Iceberg expression: {exc}",
                hint="use pyiceberg's filter syntax, e.g. \"country = 'DE' and is_active = true\"",
            ) from exc
        try:
            bind(self._table.schema(), expression, case_sensitive=True)
        except ValueError as exc:
            raise SourceError(
                f"row filter {row_filter!r} does not fit table '{self._name}': {exc}",
                hint=f"columns of '{self._name}': {', '.join(self.columns)}",
            ) from exc
        return expression

    def close(self) -> None:
        """Release the catalog's connections (safe to call twice)."""
        catalog = getattr(self, "_catalog", None)
        if catalog is not None:
            catalog.close()

    def __enter__(self) -> IcebergSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"IcebergSource({self._name!r}, catalog={self._catalog_name!r}, "
            f"snapshot={self.snapshot_id})"
        )
