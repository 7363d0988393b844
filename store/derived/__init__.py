"""Data derived from the events, kept in step by the append and rebuilt from the events when missing: the
trigram search index and its file, the sort tables, the daily counts (rollup) and the event days.

None of it is evidence: deleting it costs only the time to rebuild it. It may import `store.engine` and
`store.ledger`.
"""
