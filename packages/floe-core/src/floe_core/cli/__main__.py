"""``python -m floe_core.cli``: the same as the ``floe`` command."""

from floe_core.cli import main

main()
