from nicegui.testing import User

from tests.conftest import ADMIN_A, OWNER


async def login(user: User, email: str, password: str) -> None:
    await user.open('/login')
    user.find('Email').type(email)
    user.find('Password').type(password)
    user.find('Log in').click()


async def test_pages_need_a_session(user: User) -> None:
    await user.open('/audit-logs')
    await user.should_see('Log in')


async def test_owner_signs_in_and_sees_the_whole_organization(user: User, accounts) -> None:
    await login(user, *OWNER)
    await user.should_see('All of Acme')
    await user.should_see(OWNER[0])
