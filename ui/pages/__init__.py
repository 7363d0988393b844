"""The signed-in pages beside Audit Logs: Workspaces, Policies, Members, API tokens, Integrity, Streams.

Owns: one module per page, each with a `register()` that adds its route.
May import: `store`, `ui.shell`, and `ui.audit_logs.filter_state` (links into Audit Logs views).
"""
