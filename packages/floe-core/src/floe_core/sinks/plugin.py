"""``SinkPlugin``: a ``SinkConnector`` built from a table of ``Sink`` classes.

A plugin author writes ``Sink`` subclasses and lists them; the four ``SinkConnector`` methods
come from here, and ``write`` runs floe's engine (batching, retries, rate limits, idempotency
keys, splitting of refused batches, checksums, tracing)::

    class AcmePlugin(PluginMetadata, SinkPlugin):
        sink_classes = {"acme_crm": "acme_floe.crm:AcmeCrmSink"}   # or the class itself
        install_hint = "pip install 'acme-floe[crm]'"
        ...  # name, version, floe_api_version

Sink classes named by ``"module:Class"`` are imported only when that sink type is used.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar

from floe_core.plugins.sink import EgressResult, SinkConfig, SinkConnector
from floe_core.sinks.errors import SinkConfigurationError

if TYPE_CHECKING:
    import threading

    import pyarrow as pa
    from pydantic import BaseModel

    from floe_core.sinks.base import Operation, Sink, SinkExample
    from floe_core.sinks.endpoints import Endpoint
    from floe_core.sinks.engine import WriteOutcome
    from floe_core.sinks.settings import SettingProblem

__all__ = ["SinkPlugin"]


class SinkPlugin(SinkConnector):
    """A ``SinkConnector`` whose sinks are ``floe_core.sinks.Sink`` classes.

    Class attributes:
        sink_classes: Sink type -> ``Sink`` subclass, or ``"module:Class"`` imported on use.
        install_hint: How to install what a sink module needs, shown when its import fails.
    """

    sink_classes: ClassVar[Mapping[str, type[Sink] | str]] = {}
    install_hint: ClassVar[str] = ""

    def list_available_sinks(self) -> list[str]:
        """The sink types, sorted."""
        return sorted(self.sink_classes)

    def sink_class(self, sink_type: str, *, destination: str = "") -> type[Sink]:
        """The ``Sink`` class implementing ``sink_type`` (imported now if named by string).

        Raises:
            SinkConfigurationError: Unknown sink type, or its module cannot be imported (a
                missing optional dependency, with the install command to fix it).
        """
        target = self.sink_classes.get(sink_type)
        if target is None:
            raise SinkConfigurationError(
                f"unknown sink type {sink_type!r}; available: "
                f"{', '.join(self.list_available_sinks()) or 'none'}",
                destination=destination,
                sink_type=sink_type,
                hint="set sink_type to one of the available types",
            )
        if not isinstance(target, str):
            return target
        module_name, _, class_name = target.partition(":")
        try:
            module = import_module(module_name)
        except ImportError as exc:
            missing = exc.name or "a dependency"
            raise SinkConfigurationError(
                f"sink type {sink_type!r} needs {missing}, which is not installed",
                destination=destination,
                sink_type=sink_type,
                hint=self.install_hint or f"install the package that provides {missing}",
            ) from exc
        sink_class: type[Sink] = getattr(module, class_name)
        return sink_class

    def settings_model(self, sink_type: str) -> type[BaseModel] | None:
        """The pydantic model of ``sink_type``'s ``config:`` settings, if it declares one."""
        return self.sink_class(sink_type).settings_model

    def validate_settings(self, sink_type: str, config: Mapping[str, Any]) -> list[SettingProblem]:
        """Problems with a ``sink_type`` destination's ``config:``, checked without its Secret.

        Raises:
            SinkConfigurationError: Unknown sink type, or its module cannot be imported.
        """
        return self.sink_class(sink_type).validate_settings(config)

    def operations_for(self, sink_type: str, config: Mapping[str, Any]) -> frozenset[Operation]:
        """The operations a ``sink_type`` destination with ``config:`` can do.

        Raises:
            SinkConfigurationError: Unknown sink type, or its module cannot be imported.
        """
        return self.sink_class(sink_type).operations_for(config)

    def key_setting(self, sink_type: str) -> str | None:
        """The ``config:`` setting of ``sink_type`` that names its key columns, if any."""
        return self.sink_class(sink_type).key_setting

    def settings_from_key(
        self, sink_type: str, config: Mapping[str, Any], key_fields: Sequence[str]
    ) -> dict[str, Any]:
        """The settings a ``sink_type`` destination's key fields give where ``config:`` has none.

        Raises:
            SinkConfigurationError: Unknown sink type, or the key cannot give a needed setting.
        """
        return self.sink_class(sink_type).settings_from_key(config, key_fields)

    def secret_keys(self, sink_type: str, config: dict[str, Any]) -> list[list[str]]:
        """Groups of Secret keys, one of which a ``sink_type`` destination with ``config`` needs."""
        return self.sink_class(sink_type).secret_keys(config)

    def example(self, sink_type: str) -> SinkExample | None:
        """What ``floe init`` writes for a ``sink_type`` destination, if the sink says."""
        return self.sink_class(sink_type).example

    def project_paths(
        self, sink_type: str, values: dict[str, Any], project_dir: str
    ) -> dict[str, Any]:
        """``values`` with the sink's relative paths made relative to ``project_dir``."""
        return self.sink_class(sink_type).project_paths(values, project_dir)

    def endpoints(self, sink_type: str, values: Mapping[str, Any]) -> list[Endpoint]:
        """Where a ``sink_type`` destination with ``values`` (config merged with Secret)
        connects; see ``Sink.endpoints``."""
        return self.sink_class(sink_type).endpoints(values)

    def target(self, sink_type: str, values: Mapping[str, Any]) -> str:
        """Where a ``sink_type`` destination with ``values`` writes; see ``Sink.target``."""
        return self.sink_class(sink_type).target(values)

    def create_sink(self, config: SinkConfig) -> Sink:
        """Validate ``config``, connect and check the credentials; return the sink.

        Raises:
            SinkConfigurationError: Unknown sink type, invalid config or retry_config.
            SinkConnectionError: The destination cannot be reached.
            SinkAuthenticationError: The destination refused the credentials.
        """
        from floe_core.secrets.redact import credential_values
        from floe_core.sinks.retry import RetryPolicy
        from floe_core.sinks.tracing import SPAN_CREATE_SINK, sink_span

        if not isinstance(config, SinkConfig):
            raise TypeError(f"create_sink takes a SinkConfig, got {type(config).__name__}")
        with sink_span(
            SPAN_CREATE_SINK,
            sink_type=config.sink_type,
            destination=config.destination_name,
            secrets=credential_values(config.connection_config),
        ):
            RetryPolicy.from_config(
                config.retry_config,
                destination=config.destination_name,
                sink_type=config.sink_type,
            )
            sink_class = self.sink_class(config.sink_type, destination=config.destination_name)
            return sink_class(config)

    def write(
        self,
        sink: Any,
        data: Any,
        *,
        operation: Operation | str | None = None,
        on_progress: Callable[[int], None] | None = None,
        on_rejected: Callable[[pa.Table, str], None] | None = None,
        confirmed: Collection[str] = (),
        on_confirmed: Callable[[str, int], None] | None = None,
        **kwargs: Any,
    ) -> EgressResult:
        """Push ``data`` to ``sink`` through floe's engine; see ``floe_core.sinks.engine.write``.

        Args:
            sink: A sink from ``create_sink``.
            data: ``pyarrow.Table``, ``pyarrow.RecordBatchReader`` or iterable of
                ``pyarrow.RecordBatch``.
            operation: ``insert``, ``update``, ``upsert`` or ``delete``; ``None``: what the
                sink's settings say a write does.
            on_progress: Called with the rows done so far after each batch.
            on_rejected: Called with rows the destination refused for good, and why.
            confirmed: Keys of batches an interrupted earlier write delivered: not sent again.
            on_confirmed: Called with each batch's key and rows once the destination answered.

        Raises:
            SinkConfigurationError: The sink cannot do ``operation``, or the configuration
                does not fit the data.
            TypeError: ``sink`` is not from ``create_sink``, ``data`` is not Arrow data, or an
                unknown keyword argument was given.
        """
        if kwargs:
            raise TypeError(f"write() got unexpected keyword argument(s): {', '.join(kwargs)}")
        return self.deliver(
            sink,
            data,
            operation=operation,
            on_progress=on_progress,
            on_rejected=on_rejected,
            confirmed=confirmed,
            on_confirmed=on_confirmed,
        ).result

    def deliver(
        self,
        sink: Any,
        data: Any,
        *,
        operation: Operation | str | None = None,
        on_progress: Callable[[int], None] | None = None,
        on_rejected: Callable[[pa.Table, str], None] | None = None,
        confirmed: Collection[str] = (),
        on_confirmed: Callable[[str, int], None] | None = None,
        stop: threading.Event | None = None,
    ) -> WriteOutcome:
        """Like :meth:`write`, but also say what stopped the write, if anything.

        Args:
            stop: Set from another thread (a signal handler) to end the write after the
                batches in flight: they are awaited and counted, the rest is not sent.
            The others: as for :meth:`write`.

        Returns:
            The result, and the error that stopped the write (``None`` when it went
            through; rows the destination refused do not stop it).
        """
        from floe_core.sinks import engine
        from floe_core.sinks.base import Sink

        if not isinstance(sink, Sink):
            raise TypeError(f"write() needs a sink from create_sink, got {type(sink).__name__}")
        return engine.run(
            sink,
            data,
            operation=operation,
            on_progress=on_progress,
            on_rejected=on_rejected,
            confirmed=confirmed,
            on_confirmed=on_confirmed,
            stop=stop,
        )

    def get_source_config(self, catalog_config: dict[str, Any]) -> dict[str, Any]:
        """pyiceberg catalog properties for reading the source table.

        ``catalog_config`` is floe's catalog section (``type`` ``rest`` or ``sql``); a ``uri``
        without ``type`` means an Iceberg REST catalog (Polaris), as in floe's contract.
        """
        from floe_core.iceberg.source import catalog_properties

        config = dict(catalog_config)
        if "type" not in config and "uri" in config:
            config["type"] = "rest"
        return dict(catalog_properties(config))
