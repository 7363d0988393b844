"""The one way events leave the store: the planner (`planner`, reading through `ways`, with `query`, `counts`,
`keywords` and `tallies`) applies a viewer's visibility and a filter for every reader: the page and its
total (`events`), the timeline (`insight`), the export (`export`, `spreadsheet`), the API, the command line
and the streams. `activity` marks reads in progress, so background work can yield to them.

It may import the packages below it: `write`, `derived`, `ledger`, `engine`.
"""
