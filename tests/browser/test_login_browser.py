from tests.browser.conftest import log_in
from tests.conftest import ADMIN_A, OWNER


def test_owner_and_admin_sign_in(accounts, server, page) -> None:
    log_in(page, server, *OWNER)
    page.get_by_text('All of Acme').wait_for()
    page.get_by_role('button', name='Log out').click()
    page.wait_for_url('**/login*')
    log_in(page, server, *ADMIN_A)
    page.get_by_text('Workspace: alpha').wait_for()
