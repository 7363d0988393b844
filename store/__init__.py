"""Everything about the audit data; nothing about the browser.

The packages are layers: a package imports only the ones below it (checked by import-linter, see
pyproject.toml), from the bottom up:

- `engine`    connections to SQLite or PostgreSQL, dialects, the write-ahead log, settings, time.
- `ledger`    the event itself: its taxonomy, its validation, its hash chain, its time buckets.
- `derived`   what is rebuilt from the events: search index, sort tables, daily counts, event days.
- `write`     the one way in: append (with the chain and the derived data), import, seed, the app's own events.
- `read`      the one way out: the planner, its counts, the timeline, the export.
- `people`    accounts, sessions, API tokens, sign-in throttling, identity-provider links.
- `streams`   delivery of events to webhooks, syslog, chat and files.
- `lifecycle` opening a store: schema steps, upgrades, background threads, health, copying between engines.
"""
