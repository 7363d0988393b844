from tests.browser.conftest import log_in, log_out
from tests.conftest import ADMIN_A, OWNER


def test_owner_and_admin_sign_in(accounts, server, page) -> None:
    log_in(page, server, *OWNER)
    page.get_by_text('All of Acme').wait_for()
    log_out(page)
    log_in(page, server, *ADMIN_A)
    page.get_by_text('Workspace: alpha').wait_for()
