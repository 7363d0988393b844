"""Everything the NiceGUI server serves: the frame, the pages, the JSON API and the service routes.

Packages by role, each importing only those below it (and `store`):

    ui.app         wires every package into NiceGUI's app and serves it
    ui.pages       the pages beside Audit Logs: workspaces, policies, members, tokens, integrity, streams
    ui.audit_logs  the Audit Logs page, its widgets and its export
    ui.ops         running as a service: health, metrics, the request log, maintenance
    ui.api         the JSON API under /api/v1 (imports no other ui package)
    ui.shell       the frame, theme, dialogs, settings, worker-thread calls, and signing in

The packages' `__init__` modules re-export nothing: import a module by its full name.
"""
