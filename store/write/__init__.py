"""The one way events enter the store: `ingest.append_events` validates, extends the hash chain and keeps the
derived data in the same transaction. Import, seed and the app's own events (`self_audit`) go through it.

It may import `store.engine`, `store.ledger` and `store.derived`.
"""
