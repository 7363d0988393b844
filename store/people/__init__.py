"""Who may read: accounts and roles, sessions, API tokens, sign-in throttling, and the links of accounts to
an OpenID Connect provider.

It may import `read`, `write` and the packages below them; not `streams` or `lifecycle`.
"""
