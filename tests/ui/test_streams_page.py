"""The Streams page: for Organization Owners only; add (secret shown once), pause, resume, remove, send test."""

from nicegui import ui
from nicegui.testing import User

from store.read.events import EventFilter
from store.streams import registry as streams
from tests.conftest import ADMIN_A, OWNER
from tests.stream_receiver import running_receiver
from tests.ui.helpers import PATIENCE, sign_in


async def test_a_workspace_admin_cannot_see_or_open_streams(user: User, accounts) -> None:
    await sign_in(user, *ADMIN_A)
    await user.should_not_see('Streams')
    await user.should_not_see('Stream this view')
    response = await user.http_client.get('/streams')
    assert response.status_code == 403


async def test_stream_this_view_fills_the_add_form_and_creates_a_stream(user: User, accounts) -> None:
    await sign_in(user, *OWNER)
    await user.open('/audit-logs?scope=Billing&category=Payment&status=FAILED&time=7d')
    user.find('Stream this view').click()
    await user.should_see('Add a stream', retries=PATIENCE)
    await user.should_see('No streams yet.')
    user.find('Stream name').type('payment-failures')
    user.find('Destination URL').type('http://127.0.0.1:9/hook')
    user.find('Create stream').click()
    await user.should_see('Created stream payment-failures', retries=PATIENCE)
    await user.should_see(marker='new-secret')
    stream = streams.get_stream('payment-failures')
    assert stream.filter == EventFilter(scope='Billing', category='Payment', status='FAILED')  # no time range
    [secret_input] = user.find(marker='new-secret').elements
    assert secret_input.value == stream.secret
    table = user.find(marker='streams').elements.pop()
    assert table.rows[0]['name'] == 'payment-failures' and table.rows[0]['state'] == 'active'
    assert table.rows[0]['filter'] == 'scope: Billing, category: Payment, status: FAILED'


async def test_a_bad_destination_is_refused_under_the_form(user: User, accounts) -> None:
    await sign_in(user, *OWNER)
    await user.open('/streams')
    user.find('Stream name').type('x')
    user.find('Destination URL').type('http://example.com/hook')
    user.find('Create stream').click()
    await user.should_see('plain http:// is accepted for loopback only', retries=PATIENCE)
    assert streams.list_streams() == []


async def test_pause_resume_send_test_and_remove(user: User, accounts) -> None:
    with running_receiver() as receiver:
        _, receiver.secret = streams.create_stream('hook', receiver.url, None, EventFilter(scope='Service'), OWNER[0])
        await sign_in(user, *OWNER)
        await user.open('/streams')
        table = user.find(marker='streams')
        table.trigger('pause', 'hook')  # what the row's Pause button emits
        await user.should_see('Paused hook', retries=PATIENCE)
        assert streams.get_stream('hook').state == 'paused'
        table.trigger('resume', 'hook')
        await user.should_see('Resumed hook', retries=PATIENCE)
        assert streams.get_stream('hook').state == 'active'
        table.trigger('test', 'hook')
        await user.should_see('Sent a test event to "hook"', retries=PATIENCE)
        assert [e['id'] for e in receiver.events() if e['position'] == 0][0].startswith('test-')
        receiver.mode, receiver.status = 'status', 404
        table.trigger('test', 'hook')
        await user.should_see('HTTP 404', retries=PATIENCE)
        table.trigger('remove', 'hook')
        await user.should_see('Remove stream "hook"?', retries=PATIENCE)
        user.find(kind=ui.button, content='Remove stream').click()
        await user.should_see('Removed hook', retries=PATIENCE)
        assert streams.list_streams() == []
