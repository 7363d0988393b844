"""The Audit Logs page (/audit-logs) and its widgets.

Owns: the page, its filters as one value and as a URL (filter_state), the filter bar, the event table,
the event detail, the timeline chart, the export dialog and the routes that serve finished exports.
May import: `store`, `ui.shell`.
"""
