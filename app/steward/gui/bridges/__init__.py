"""The bridge's areas: one sub-bridge per part of the application the pages ask about.

The core `steward.gui.bridge.Bridge` owns the service, the engine-event signal, the snapshot and
the scheduling helpers; it holds one sub-bridge per area as an attribute (`bridge.chat`,
`bridge.models`, `bridge.servers`, `bridge.gateway`, `bridge.history`, `bridge.hardware`,
`bridge.lab`). Each sub-bridge is a thin QObject that schedules `StewardService` calls through
the core and carries its area's signals; like the core, it decides nothing.
"""
