"""The frame every page shares and signing in.

Owns: the app's settings as read at start-up (config), store calls off the event loop (db), the theme,
the header and sidebar (frame), dialogs, the session, the sign-in page and OpenID Connect sign-in.
May import: `store` and NiceGUI; no other `ui` package.
"""
