"""A partition of a destination: the source rows matching a row filter, run on their own.

An orchestrator that splits a destination into partitions (one per day, one per region) runs
each partition as a destination of its own: the same sink and settings, reading only the rows
that match the partition's row filter, under its own name in the state store,
``<destination>@<partition>``. Everything floe keys by destination name is then kept per
partition: the lease (so two partitions deliver at the same time while two runs of one
partition do not), the run history, the journal a resumed run skips from, the checkpoint, the
fingerprints of an incremental sync (a ``mirror`` partition deletes only the keys it synced)
and the rejected rows. Destination names cannot contain ``@``, so a partition's name never
collides with a declared destination.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import TYPE_CHECKING

from floe_core.egress.errors import EgressConfigError

if TYPE_CHECKING:
    from floe_core.compiler import CompiledDestination

__all__ = ["PARTITION_SEPARATOR", "partition_destination", "partition_state_name"]

#: Between a destination's name and its partition's, in the state store.
PARTITION_SEPARATOR = "@"

# A partition key kept as it is: short, and safe as a folder name (fingerprints are files).
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=+-]{0,63}$")


def partition_state_name(destination: str, partition_key: str) -> str:
    """``<destination>@<partition_key>``; a key that is long or not a plain name is hashed.

    Raises:
        EgressConfigError: The partition key is empty.
    """
    if not partition_key:
        raise EgressConfigError(
            f"an empty partition key for destination '{destination}'",
            hint="give every partition a non-empty key",
        )
    if _PLAIN_KEY.match(partition_key) is None:
        digest = hashlib.sha256(partition_key.encode()).hexdigest()[:16]
        partition_key = f"h-{digest}"
    return f"{destination}{PARTITION_SEPARATOR}{partition_key}"


def partition_destination(
    destination: CompiledDestination, partition_key: str, row_filter: str
) -> CompiledDestination:
    """``destination`` restricted to the rows matching ``row_filter``, named for its partition.

    The row filter is checked against the source table when the run opens it (a filter that
    does not parse or names a missing column fails the run before anything is sent).

    Raises:
        EgressConfigError: The row filter is blank (it would send every row of the table as
            if it were one partition's), or the partition key is empty.
    """
    if not row_filter.strip():
        raise EgressConfigError(
            f"partition '{partition_key}' of destination '{destination.name}' has an empty "
            "row filter",
            hint="map every partition key to an Iceberg row filter, e.g. \"region = 'EU'\"",
        )
    return dataclasses.replace(
        destination,
        name=partition_state_name(destination.name, partition_key),
        row_filter=row_filter,
    )
