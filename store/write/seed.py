"""Realistic demo events in the product's vocabulary, deterministic for a given seed."""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice

from store.ledger.validation import NewEvent
from store.write.ingest import time_ordered_id

WORKSPACES = ('research', 'production', 'ml-platform', 'data-science', 'staging')
FIRST = ('alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'niaj',
         'olivia', 'peggy', 'rupert', 'sybil', 'trent', 'victor', 'walter', 'yuki', 'zara', 'omar', 'lena', 'tomas')
DOMAIN = 'acme.io'
USERS = tuple(f'{name}@{DOMAIN}' for name in FIRST)
GPUS = ('A100', 'H100', 'L4', 'L40S', 'T4')
PLANS = ('Starter', 'Team', 'Business', 'Enterprise')
POLICIES = ('ReadOnlyAccess', 'BillingAdmin', 'WorkspaceOperator', 'GPUQuotaManager', 'NotebookUser', 'AuditViewer')
MODELS = ('llama-3-8b', 'mistral-7b', 'sdxl', 'whisper-large', 'bge-m3', 'qwen2-7b')
ROLES = ('Viewer', 'Member', 'Admin', 'Owner')

Template = tuple[str, str, str, Callable[[random.Random, str], tuple[str, str]], tuple[str, ...]]


def _pick(rng: random.Random, items: tuple[str, ...]) -> str:
    return items[rng.randrange(len(items))]


def _member(verb: str) -> Callable[[random.Random, str], tuple[str, str]]:
    def make(rng: random.Random, ws: str) -> tuple[str, str]:
        who = _pick(rng, USERS)
        role = _pick(rng, ROLES)
        text = {'invite': f'Invited {who} as {role}', 'remove': f'Removed {who}',
                'role': f'Changed role of {who} to {role}'}[verb]
        return who, text + (f' in workspace {ws}' if ws else '')
    return make


def _policy(verb: str) -> Callable[[random.Random, str], tuple[str, str]]:
    def make(rng: random.Random, ws: str) -> tuple[str, str]:
        policy = _pick(rng, POLICIES)
        who = _pick(rng, USERS)
        text = {'create': f'Created policy {policy}', 'attach': f'Attached policy {policy} to {who}',
                'detach': f'Detached policy {policy} from {who}'}[verb]
        return policy, text
    return make


def _billing(kind: str) -> Callable[[random.Random, str], tuple[str, str]]:
    def make(rng: random.Random, ws: str) -> tuple[str, str]:
        amount = rng.choice((50, 100, 250, 500, 1000, 2500))
        if kind == 'credit':
            return f'credit-{rng.randrange(10**5):05d}', f'Added ${amount:,} in credits'
        if kind == 'payment':
            return f'inv-{rng.randrange(10**6):06d}', f'Charged ${amount:,} to card ending {rng.randrange(10**4):04d}'
        if kind == 'plan':
            old, new = rng.sample(PLANS, 2)
            return 'subscription', f'Changed plan from {old} to {new}'
        return f'VOUCHER-{rng.randrange(36**5):X}', f'Redeemed a voucher worth ${amount:,}'
    return make


def _workspace(kind: str) -> Callable[[random.Random, str], tuple[str, str]]:
    def make(rng: random.Random, ws: str) -> tuple[str, str]:
        if kind == 'create':
            return ws, f'Created workspace {ws}'
        if kind == 'rename':
            return ws, f'Renamed workspace {ws}-old to {ws}'
        if kind == 'settings':
            setting = rng.choice(('idle shutdown', 'default image', 'network policy', 'storage class'))
            return ws, f'Changed {setting} of workspace {ws}'
        gpu = _pick(rng, GPUS)
        old = rng.randrange(0, 16)
        return f'{ws}/{gpu}', f'Changed {gpu} quota of {ws} from {old} to {old + rng.randrange(1, 9)} GPUs'
    return make


def _service(kind: str, verb: str) -> Callable[[random.Random, str], tuple[str, str]]:
    def make(rng: random.Random, ws: str) -> tuple[str, str]:
        gpu = _pick(rng, GPUS)
        if kind == 'notebook':
            name = f'nb-{rng.randrange(16**6):06x}'
            return name, f'{verb} notebook {name} on 1x {gpu} in {ws}'
        if kind == 'container':
            name = f'ctr-{rng.randrange(16**6):06x}'
            return name, f'{verb} GPU container {name} with {rng.choice((1, 2, 4, 8))}x {gpu} in {ws}'
        model = _pick(rng, MODELS)
        name = f'{model}-{rng.randrange(100)}'
        replicas = rng.randrange(1, 9)
        text = f'Deployed {model} as endpoint {name} on {gpu}' if verb == 'Deployed' else \
            f'Scaled endpoint {name} to {replicas} replicas'
        return name, text
    return make


# (scope, category, action, target+description maker, failure reasons); False workspace = org-wide
TEMPLATES: tuple[tuple[Template, float, bool], ...] = (
    (('Organization', 'Member', 'Invite Member', _member('invite'), ('email bounced', 'seat limit reached')), 3, False),
    (('Organization', 'Member', 'Remove Member', _member('remove'), ('cannot remove the last owner',)), 1, False),
    (('Organization', 'Member', 'Change Member Role', _member('role'), ('permission denied',)), 1.5, False),
    (('Organization', 'Policy', 'Create Policy', _policy('create'), ('policy name already exists',)), 1, False),
    (('Organization', 'Policy', 'Attach Policy', _policy('attach'), ('policy not found',)), 2, False),
    (('Organization', 'Policy', 'Detach Policy', _policy('detach'), ('policy not attached',)), 1.5, False),
    (('Organization', 'Workspace', 'Create Workspace', _workspace('create'), ('workspace limit reached',)), 0.5, True),
    (('Organization', 'Workspace', 'Rename Workspace', _workspace('rename'), ('name already taken',)), 0.3, True),
    (('Billing', 'Credit', 'Add Credit', _billing('credit'), ('card declined',)), 1.5, False),
    (('Billing', 'Payment', 'Charge Payment', _billing('payment'), ('card declined: insufficient funds',
                                                                    'card expired')), 2, False),
    (('Billing', 'Plan', 'Change Plan', _billing('plan'), ('downgrade blocked by active GPUs',)), 0.4, False),
    (('Billing', 'Voucher', 'Redeem Voucher', _billing('voucher'), ('voucher expired', 'voucher already used')),
     0.6, False),
    (('Workspace', 'Member', 'Add Workspace Member', _member('invite'), ('user not in organization',)), 2, True),
    (('Workspace', 'Member', 'Remove Workspace Member', _member('remove'), ('member not found',)), 0.8, True),
    (('Workspace', 'Settings', 'Update Settings', _workspace('settings'), ('invalid value',)), 2, True),
    (('Workspace', 'GPU Quota', 'Change GPU Quota', _workspace('quota'), ('exceeds organization quota',)), 2, True),
    (('Service', 'AI Notebook', 'Start Notebook', _service('notebook', 'Started'), ('no GPU capacity in region',
                                                                                    'quota exceeded')), 12, True),
    (('Service', 'AI Notebook', 'Stop Notebook', _service('notebook', 'Stopped'), ('notebook not running',)), 11, True),
    (('Service', 'GPU Container', 'Create Container', _service('container', 'Created'), ('image pull failed',
                                                                                        'quota exceeded')), 10, True),
    (('Service', 'GPU Container', 'Stop Container', _service('container', 'Stopped'), ('container not found',)),
     9, True),
    (('Service', 'AI Inference', 'Deploy Endpoint', _service('inference', 'Deployed'), ('model failed health check',
                                                                                        'quota exceeded')), 6, True),
    (('Service', 'AI Inference', 'Scale Endpoint', _service('inference', 'Scaled'), ('scaling limit reached',)),
     5, True),
)


def demo_events(count: int, seed: int | None = None, end: datetime | None = None,
                days: float = 90) -> Iterator[NewEvent]:
    """`count` events spread over the `days` before `end`, oldest first; same seed and end, same events."""
    rng = random.Random(seed)
    end = (end or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    span_ms = int(days * 86_400_000)
    offsets = sorted(rng.randrange(span_ms) for _ in range(count))
    weights = [weight for _, weight, _ in TEMPLATES]
    chosen = rng.choices(range(len(TEMPLATES)), weights=weights, k=count)
    start = end - timedelta(days=days)
    start_ms = int(start.timestamp() * 1000)
    for offset, index in zip(offsets, chosen, strict=True):
        (scope, category, action, make, reasons), _, in_workspace = TEMPLATES[index]
        workspace = _pick(rng, WORKSPACES) if in_workspace else None
        target, description = make(rng, workspace or '')
        failed = rng.random() < 0.07
        if failed:
            description = f'{description} failed: {_pick(rng, reasons)}'
        system = scope == 'Service' and rng.random() < 0.15 or scope == 'Billing' and action == 'Charge Payment'
        yield NewEvent(
            id=time_ordered_id(start_ms + offset, rng.getrandbits(80)),
            timestamp=start + timedelta(milliseconds=offset),
            user='system' if system else _pick(rng, USERS),
            scope=scope, category=category, action=action, target=target,
            status='FAILED' if failed else 'SUCCESS',
            description=description, workspace=workspace,
            metadata={'request_id': f'req-{rng.getrandbits(48):012x}',
                      'ip': f'10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}'},
        )


def prefetched(events: Iterator[NewEvent], batch: int = 2000, depth: int = 8,
               transform: Callable[[list[NewEvent]], list] | None = None) -> Iterator:
    """Generate events (and `transform` each batch, e.g. prepare it for storing) in a background thread,
    so that Python work overlaps with SQLite's writing, which releases the GIL."""
    buffer: queue.Queue[list | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            while not stop.is_set() and (chunk := list(islice(events, batch))):
                buffer.put(transform(chunk) if transform else chunk)
            buffer.put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            buffer.put(exc)

    worker = threading.Thread(target=produce, name='demo-events', daemon=True)
    worker.start()
    try:
        while (item := buffer.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield from item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                buffer.get_nowait()
            except queue.Empty:
                worker.join(0.05)
