"""The JSON API under /api/v1, a FastAPI app of its own served in front of NiceGUI.

Owns: request parsing and validation (parsing), the group commit that stores appended events (group_commit),
the documentation models (models), the routes (routes), the app and its place in front of NiceGUI (application),
and the OpenAPI schema's rules (schema).
May import: `store`; no other `ui` package (it works without the pages).
"""
