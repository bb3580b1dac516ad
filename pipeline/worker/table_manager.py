"""faust's table manager, started without its idle second.

faust 0.15.3's ``TableManager.on_start`` sleeps one second before it registers the tables'
changelog channels and starts recovery: a grace for tables defined after the app started. This
app defines both of its tables before the worker starts (``InvoiceSyncApp.__init__``), so every
start and restart, and with it readiness, waited that second for nothing (docs/performance.md).
The rest of ``on_start`` is faust's own; tests/unit/test_faust_internals.py pins the method
this replaces, so a faust upgrade that changes it fails loudly.
"""

from __future__ import annotations

from faust.tables import TableManager


class PromptTableManager(TableManager):
    """:class:`faust.tables.TableManager` whose start does not sleep first."""

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()
