"""The one way events leave the store: the planner (`events`, with `query`, `counts` and `walks`) applies a
viewer's visibility and a filter for every reader: the page, its total, the timeline (`insight`), the
export, the API, the command line and the streams.

It may import the packages below it: `write`, `derived`, `ledger`, `engine`.
"""
