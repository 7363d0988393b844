"""The ID token's checks, with tokens signed by keys generated here: the misbehaviours a real provider cannot be
made to show (another issuer or audience, expired, unsigned, badly signed). The flow itself, with the real
provider, is in tests/test_oidc_http.py."""

from __future__ import annotations

import base64
import json
import re
import time

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from ui.shell.oidc_client import OidcRefusal, validate_id_token

ISSUER = 'https://id.acme.io'
CLIENT = 'audit-logs'
NONCE = 'nonce-of-this-sign-in'
KEY = RSAKey.generate_key(2048, parameters={'kid': 'provider-key'})
JWKS = {'keys': [KEY.as_dict(private=False)]}


def claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    base = {'iss': ISSUER, 'aud': CLIENT, 'sub': 'ida-sub', 'iat': now, 'exp': now + 300, 'nonce': NONCE,
            'email': 'ida@acme.io', 'email_verified': True}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload: dict[str, object], key=KEY, alg: str = 'RS256') -> str:
    return jwt.encode({'alg': alg, 'kid': 'provider-key'}, payload, key)


def validate(token: str) -> dict:
    return validate_id_token(token, JWKS, issuer=ISSUER, client_id=CLIENT, nonce=NONCE)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b'=').decode()


def test_a_good_token_gives_its_claims() -> None:
    assert validate(signed(claims()))['email'] == 'ida@acme.io'
    assert validate(signed(claims(aud=[CLIENT, 'other'], azp=CLIENT)))['sub'] == 'ida-sub'


@pytest.mark.parametrize(('token', 'reason'), [
    (lambda: signed(claims(iss='https://evil.example')), 'another issuer'),
    (lambda: signed(claims(aud='another-client')), 'for another client'),
    (lambda: signed(claims(aud=[CLIENT, 'another-client'], azp='another-client')), 'another client (azp)'),
    (lambda: signed(claims(iat=int(time.time()) - 3600, exp=int(time.time()) - 600)), 'expired'),
    (lambda: signed(claims(nonce='a-replayed-nonce')), 'nonce is not this sign-in'),
    (lambda: signed(claims(nonce=None)), 'lacks the claims nonce'),
    (lambda: f'{b64({"alg": "none"})}.{b64(claims())}.', 'unsigned'),
    (lambda: f'{b64({"alg": "None", "kid": "provider-key"})}.{b64(claims())}.', 'unsigned'),
    (lambda: signed(claims(), RSAKey.generate_key(2048, parameters={'kid': 'provider-key'})), 'signature'),
    (lambda: signed(claims())[:-8] + 'AAAAAAAA', 'signature'),
    (lambda: signed(claims(), OctKey.import_key(json.dumps(JWKS['keys'][0]).encode()), 'HS256'), 'HS256'),
    (lambda: 'not-a-token', 'not a JSON Web Token'),
], ids=['issuer', 'audience', 'azp', 'expired', 'nonce', 'no-nonce', 'alg-none', 'alg-None', 'other-key',
        'tampered', 'hmac-with-public-key', 'garbage'])
def test_a_bad_token_is_refused_with_the_reason(token, reason: str) -> None:
    with pytest.raises(OidcRefusal, match=re.escape(reason)):
        validate(token())
