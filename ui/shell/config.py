"""The running app's resolved settings, set once by `main.py serve` (cli/serve.py) before pages are built."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from store.people.oidc_config import OidcConfig


@dataclass(frozen=True)
class AppConfig:
    database_url: str
    timezone: ZoneInfo
    organization: str
    session_idle_minutes: int
    storage_secret: str
    oidc: OidcConfig | None = None  # sign-in through an OpenID Connect provider, when configured
    password_login: str = 'on'  # on, off or break-glass (store/people/oidc_config.py)

    @property
    def timezone_name(self) -> str:
        return self.timezone.key


_current: AppConfig | None = None


def set_config(config: AppConfig) -> None:
    global _current
    _current = config


def config() -> AppConfig:
    if _current is None:
        raise RuntimeError('the app is not configured: main.py sets the configuration before serving')
    return _current
