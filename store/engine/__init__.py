"""The database engine: connections and pools (SQLite or PostgreSQL by URL), transactions, the write lock,
the two dialects, the write-ahead log's checkpoints, background threads, settings and time formats.

It imports nothing else of the store: everything above builds on it.
"""
