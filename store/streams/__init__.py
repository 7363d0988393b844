"""Streams: a filter, a destination and a position. `registry` keeps them, `delivery` sends batches at least
once and in order, `destinations` and `formats` speak webhook, syslog, chat and JSON Lines, `verify` checks
a copy held elsewhere.

It may import `read`, `write` and the packages below them; not `people` or `lifecycle`.
"""
