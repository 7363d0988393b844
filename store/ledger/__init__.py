"""The event itself: its taxonomy (scopes, categories, statuses), its validation, the hash chain that makes
the log tamper-evident, and the time buckets the counts use.

It may import `store.engine` only.
"""
