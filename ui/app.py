"""Wiring the pages, the API and the middleware into NiceGUI's app, and serving it."""

from __future__ import annotations

import asyncio
import sys

from nicegui import app, helpers, ui

from ui.api import application as api
from ui.audit_logs import export_routes
from ui.audit_logs import page as audit_logs
from ui.ops import maintenance, service, stream_health
from ui.pages import integrity, members, policies, streams, tokens, workspaces
from ui.shell import login, oidc, theme
from ui.shell.config import AppConfig, config, set_config


def register(app_config: AppConfig) -> None:
    """Register every route; called once per process (and once per simulated test app)."""
    set_config(app_config)
    theme.register()
    login.register()
    oidc.register()
    audit_logs.register()
    workspaces.register()
    policies.register()
    export_routes.register()
    members.register()
    tokens.register()
    streams.register()
    integrity.register()
    api.register()
    maintenance.register()
    service.register()  # after api: wraps the stack it built


# Python hands its GIL between threads every 5 ms by default. The API's writer holds the database's write
# lock while it runs a dozen statements per batch, and after each one it waits for the GIL, which a thread
# validating the next request may hold for the whole interval: the lock sits idle. Measured at 1,000,000
# events, 2 clients: 14,451 → 17,999 events/s (back-filled history), 18,283 → 23,353 (live events).
GIL_SWITCH_SECONDS = 0.001


def serve(app_config: AppConfig, host: str = '127.0.0.1', port: int = 8080,
          delivery: stream_health.Delivery | None = None) -> None:
    """Serve until stopped; `delivery` (the streams' deliverer: a process of its own or threads, off the event
    loop) starts and stops with the server, none when another process delivers."""
    register(app_config)
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    if delivery is not None:
        app.on_startup(delivery.start)
        app.on_shutdown(lambda: asyncio.to_thread(delivery.stop))
        stream_health.watch(delivery)
    # after the deliverer's, so its shutdown (which closes the database) runs after the streams stopped
    options = {} if helpers.is_user_simulation() else service.prepare_process()
    ui.run(host=host, port=port, title='Audit Logs', reload=False, show=False, favicon='🛡️', tailwind=False,
           storage_secret=config().storage_secret, show_welcome_message=False, language='en-US', **options)
