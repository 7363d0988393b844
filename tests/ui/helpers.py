"""Signing in through the real login page in NiceGUI's simulated `user`."""

from nicegui.testing import User

PATIENCE = 100  # retries of 0.1 s: Argon2 and a busy machine can take a while


async def login(user: User, email: str, password: str) -> None:
    """Fill the login form and press Log in; the caller checks the outcome."""
    await user.open('/login')
    user.find('Email').type(email)
    user.find('Password').type(password)
    user.find('Log in').click()


async def sign_in(user: User, email: str, password: str) -> None:
    """Sign in and wait until a signed-in page shows."""
    await login(user, email, password)
    await user.should_see(marker='whoami', retries=PATIENCE)
