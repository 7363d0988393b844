from store.people.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_lock_for_a_minute_then_free():
    clock = Clock()
    throttle = LoginThrottle(limit=5, window=300, lockout=60, clock=clock)
    for _ in range(4):
        throttle.failed('email:a', 'client:1')
        assert throttle.wait('email:a', 'client:1') == 0
    throttle.failed('email:a', 'client:1')
    assert throttle.wait('email:a') == 60
    assert throttle.wait('email:b', 'client:1') == 60  # the client is locked too, whatever email it tries
    clock.now += 59.5
    assert throttle.wait('email:a') == 1
    clock.now += 1
    assert throttle.wait('email:a', 'client:1') == 0


def test_failures_outside_the_window_do_not_count_and_success_resets():
    clock = Clock()
    throttle = LoginThrottle(limit=3, window=10, lockout=60, clock=clock)
    throttle.failed('k')
    throttle.failed('k')
    clock.now += 11
    throttle.failed('k')
    assert throttle.wait('k') == 0
    throttle.failed('k')
    throttle.succeeded('k')
    throttle.failed('k')
    assert throttle.wait('k') == 0
