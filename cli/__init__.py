"""The command line's commands; `main.py` is the entry point that parses and dispatches to them.

Owns: the parser and its options (arguments), serving (serve), the store's maintenance commands (commands)
and streams (streams). Each command imports the store modules it uses when it runs, so a quick command
such as `create-token` starts without pandas, and only `serve` imports NiceGUI (through `ui`).
May import: `store`; `ui` only to serve.
"""
