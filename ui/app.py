"""Wiring the pages, the API and the middleware into NiceGUI's app, and serving it."""

from __future__ import annotations

from nicegui import ui

from ui import (
    api,
    audit_logs,
    export_routes,
    integrity_page,
    login,
    members,
    policies_page,
    tokens_page,
    workspaces_page,
)
from ui.config import AppConfig, config, set_config


def register(app_config: AppConfig) -> None:
    """Register every route; called once per process (and once per simulated test app)."""
    set_config(app_config)
    login.register()
    audit_logs.register()
    workspaces_page.register()
    policies_page.register()
    export_routes.register()
    members.register()
    tokens_page.register()
    integrity_page.register()
    api.register()


def serve(app_config: AppConfig, host: str = '127.0.0.1', port: int = 8080) -> None:
    register(app_config)
    ui.run(host=host, port=port, title='Audit Logs', reload=False, show=False, favicon='🛡️',
           storage_secret=config().storage_secret, show_welcome_message=False)
