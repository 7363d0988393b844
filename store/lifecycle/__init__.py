"""A store's life: opening it (schema steps and upgrades, the indexer and checkpointer threads), closing it,
its health and size, and copying it from one engine to another.

It is the top of the store and may import any package of it.
"""
