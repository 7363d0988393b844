"""`main.py serve`: open the store, seed the demo if asked, and serve the web app and the API."""

from __future__ import annotations

import argparse
import os

from cli.delivery import DeliveryProcess, delivery_mode
from store.engine import settings
from store.engine.db import StoreError, connection
from store.lifecycle.opening import open_database
from store.people import oidc_config
from store.read.events import EventFilter, Viewer
from store.streams.delivery import Deliverer

DEMO_EVENTS = 20_000
DEMO_ACCOUNTS = (
    ('owner@acme.io', 'owner-demo-pass', 'owner', ()),
    ('research-admin@acme.io', 'admin-demo-pass', 'admin', ('research',)),
)


def cmd_serve(args: argparse.Namespace, url: str) -> int:
    from store.derived import event_days
    from store.engine import meta
    from store.engine.db import is_sqlite
    from store.people.accounts import count_accounts, create_account
    from store.read.events import count_events
    from store.write.ingest import append_events
    from store.write.seed import demo_events
    from ui.app import serve
    from ui.shell.config import AppConfig

    oidc = oidc_config.load()  # a mistake in the provider's settings stops the start before anything opens
    delivery = stream_delivery(url)
    open_database(url, map_mib=whole_number(settings.SQLITE_MAP_MIB))
    if is_sqlite():
        event_days.read_ahead()
    with connection():
        if args.demo and count_events(Viewer.organization(), EventFilter()) == 0:
            append_events(demo_events(DEMO_EVENTS))
            print(f'Seeded {DEMO_EVENTS:,} demo events.')
        if args.demo and count_accounts() == 0:
            for email, password, role, workspaces in DEMO_ACCOUNTS:
                create_account(email, password, role, workspaces)
                print(f'Demo account: {email} / {password}')
        secret = settings.SESSION_SECRET.value() or meta.session_secret()
    from store.engine.timefmt import zone
    app_config = AppConfig(
        database_url=url, timezone=zone(settings.DISPLAY_TIMEZONE.value()),
        organization=settings.ORGANIZATION_NAME.value(),
        session_idle_minutes=whole_number(settings.SESSION_IDLE_MINUTES, least=1),
        storage_secret=secret, oidc=oidc, password_login=oidc_config.password_mode())
    serve(app_config, host=args.host, port=args.port, delivery=delivery)
    return 0


def stream_delivery(url: str) -> Deliverer | DeliveryProcess | None:
    """The server's deliverer of streams, as AUDIT_STREAM_DELIVERY says (cli/delivery.py). NiceGUI's simulated
    test apps deliver in threads: they are not processes a delivery process could be tied to."""
    mode = delivery_mode()
    if mode == 'process' and not os.environ.get('NICEGUI_USER_SIMULATION'):
        return DeliveryProcess(url)
    return Deliverer() if mode != 'off' else None


def whole_number(setting: settings.Setting, least: int = 0) -> int:
    value = setting.value()
    if not value.isdigit() or int(value) < least:
        raise StoreError(f'{setting.env} must be a whole number of at least {least}, not {value!r}')
    return int(value)
