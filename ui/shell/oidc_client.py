"""The app as an OpenID Connect client: the provider's discovery document, the authorization request (PKCE,
state and nonce), the code exchange (Authlib), and the ID token's checks (joserfc).

Nothing here touches the database or the browser; ui/shell/oidc.py wires it to both. Every failure is an
`OidcRefusal` with a reason a person can read.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, cast

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import KeySet, KeySetSerialization

from store.people.oidc_config import OidcConfig

DISCOVERY_PATH = '/.well-known/openid-configuration'
DISCOVERY_TTL_SECONDS = 300
HTTP_TIMEOUT_SECONDS = 10
LEEWAY_SECONDS = 60  # clock skew allowed between the provider and this server
# Signed with the provider's published (asymmetric) keys only: never `none`, never a shared-secret HMAC.
ALGORITHMS = ('RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA')


class OidcRefusal(Exception):
    """A sign-in through the provider that must not go on; the message says why."""


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    auth_methods: tuple[str, ...]


@dataclass(frozen=True)
class Started:
    url: str
    state: str
    nonce: str
    code_verifier: str


_discovered: dict[str, tuple[float, Provider]] = {}
_keys: dict[str, tuple[float, dict[str, Any]]] = {}


async def _get_json(url: str) -> dict[str, Any]:
    try:
        async with httpx2.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
            response = await client.get(url)
            response.raise_for_status()
            document = response.json()
    except (httpx2.HTTPError, ValueError) as exc:
        raise OidcRefusal(f'the provider could not be reached ({url}): {exc}') from exc
    if not isinstance(document, dict):
        raise OidcRefusal(f'the provider sent no JSON object at {url}')
    return document


async def discover(config: OidcConfig) -> Provider:
    """The provider's endpoints from its discovery document, kept for `DISCOVERY_TTL_SECONDS`."""
    cached = _discovered.get(config.issuer)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    document = await _get_json(config.issuer + DISCOVERY_PATH)
    if document.get('issuer', '').rstrip('/') != config.issuer:
        raise OidcRefusal(f'the discovery document names the issuer {document.get("issuer")!r}, '
                          f'not {config.issuer!r}')
    try:
        provider = Provider(
            issuer=document['issuer'], authorization_endpoint=document['authorization_endpoint'],
            token_endpoint=document['token_endpoint'], jwks_uri=document['jwks_uri'],
            end_session_endpoint=document.get('end_session_endpoint'),
            auth_methods=tuple(document.get('token_endpoint_auth_methods_supported') or ('client_secret_basic',)))
    except KeyError as exc:
        raise OidcRefusal(f'the discovery document lacks {exc.args[0]}') from exc
    _discovered[config.issuer] = (time.monotonic() + DISCOVERY_TTL_SECONDS, provider)
    return provider


def _client(config: OidcConfig, provider: Provider, redirect_uri: str) -> AsyncOAuth2Client:
    if not config.client_secret:
        method = 'none'
    elif 'client_secret_basic' in provider.auth_methods or 'client_secret_post' not in provider.auth_methods:
        method = 'client_secret_basic'
    else:
        method = 'client_secret_post'
    return AsyncOAuth2Client(client_id=config.client_id, client_secret=config.client_secret or None,
                             token_endpoint_auth_method=method, scope=config.scopes, redirect_uri=redirect_uri,
                             code_challenge_method='S256', timeout=HTTP_TIMEOUT_SECONDS)


def start(config: OidcConfig, provider: Provider, redirect_uri: str) -> Started:
    """A new authorization request: its URL, and the state, nonce and PKCE verifier to keep until the answer."""
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    url, _ = _client(config, provider, redirect_uri).create_authorization_url(
        provider.authorization_endpoint, state=state, code_verifier=verifier, nonce=nonce)
    return Started(url, state, nonce, verifier)


async def exchange(config: OidcConfig, provider: Provider, redirect_uri: str, code: str, code_verifier: str) -> str:
    """The ID token the provider gives for this authorization code (once: a used code is refused there)."""
    async with _client(config, provider, redirect_uri) as client:
        try:
            token = await client.fetch_token(provider.token_endpoint, grant_type='authorization_code', code=code,
                                             code_verifier=code_verifier)
        except OAuthError as exc:
            raise OidcRefusal(f'the provider refused the authorization code ({exc.error}: {exc.description})') from exc
        except (httpx2.HTTPError, ValueError) as exc:
            raise OidcRefusal(f'the provider\'s token endpoint failed: {exc}') from exc
    id_token = token.get('id_token')
    if not isinstance(id_token, str):
        raise OidcRefusal('the provider sent no ID token (is `openid` among the scopes?)')
    return id_token


async def signing_keys(provider: Provider, *, fresh: bool = False) -> dict[str, Any]:
    """The provider's published keys (JWKS), kept as long as the discovery document unless `fresh`."""
    cached = _keys.get(provider.jwks_uri)
    if cached and not fresh and cached[0] > time.monotonic():
        return cached[1]
    jwks = await _get_json(provider.jwks_uri)
    _keys[provider.jwks_uri] = (time.monotonic() + DISCOVERY_TTL_SECONDS, jwks)
    return jwks


async def verified_claims(config: OidcConfig, provider: Provider, id_token: str, nonce: str) -> dict[str, Any]:
    """`validate_id_token` with the provider's keys, read again when the token names a key not among them."""
    jwks = await signing_keys(provider)
    kid = _header(id_token).get('kid')
    if kid and kid not in {key.get('kid') for key in jwks.get('keys', []) if isinstance(key, dict)}:
        jwks = await signing_keys(provider, fresh=True)  # the provider may have rotated its keys
    return validate_id_token(id_token, jwks, issuer=provider.issuer, client_id=config.client_id, nonce=nonce)


def _header(id_token: str) -> dict[str, Any]:
    try:
        segment = id_token.split('.')[0]
        header = json.loads(base64.urlsafe_b64decode(segment + '=' * (-len(segment) % 4)))
    except (ValueError, IndexError) as exc:
        raise OidcRefusal('the ID token is not a JSON Web Token') from exc
    if not isinstance(header, dict):
        raise OidcRefusal('the ID token is not a JSON Web Token')
    return header


def validate_id_token(id_token: str, jwks: dict[str, Any], *, issuer: str, client_id: str, nonce: str,
                      now: int | None = None) -> dict[str, Any]:
    """The ID token's claims once its signature, issuer, audience, times and nonce all check out."""
    alg = _header(id_token).get('alg')
    if not isinstance(alg, str) or alg.lower() == 'none':
        raise OidcRefusal('the ID token is unsigned (alg: none)')
    if alg not in ALGORITHMS:
        raise OidcRefusal(f'the ID token is signed with {alg}, which this app does not accept')
    try:
        keys = KeySet.import_key_set(cast(KeySetSerialization, jwks))  # the provider's JSON: checked here
        token = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
    except BadSignatureError as exc:
        raise OidcRefusal('the ID token\'s signature is not the provider\'s') from exc
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise OidcRefusal(f'the ID token cannot be verified with the provider\'s keys ({exc})') from exc
    claims = token.claims
    registry = jwt.JWTClaimsRegistry(
        now=int(time.time()) if now is None else now, leeway=LEEWAY_SECONDS,
        iss={'essential': True, 'value': issuer}, aud={'essential': True, 'value': client_id},
        sub={'essential': True}, exp={'essential': True}, iat={'essential': True},
        nonce={'essential': True, 'value': nonce})
    try:
        registry.validate(claims)
    except ExpiredTokenError as exc:
        raise OidcRefusal('the ID token has expired') from exc
    except (InvalidClaimError, MissingClaimError) as exc:
        raise OidcRefusal(_claim_reason(exc)) from exc
    except JoseError as exc:
        raise OidcRefusal(f'the ID token was refused ({exc})') from exc
    audiences = claims['aud'] if isinstance(claims['aud'], list) else [claims['aud']]
    if len(audiences) > 1 and claims.get('azp') != client_id:
        raise OidcRefusal('the ID token was issued to another client (azp)')
    return claims


def _claim_reason(exc: InvalidClaimError | MissingClaimError) -> str:
    reasons = {'iss': 'the ID token comes from another issuer', 'aud': 'the ID token is for another client',
               'nonce': 'the ID token\'s nonce is not this sign-in\'s', 'exp': 'the ID token has expired',
               'iat': 'the ID token\'s issue time is wrong', 'nbf': 'the ID token is not valid yet'}
    claim = str(getattr(exc, 'claim', '') or '')
    if isinstance(exc, MissingClaimError):
        return f'the ID token lacks the claims {claim}'
    return reasons.get(claim, f'the ID token\'s claim {claim} is wrong')


def logout_url(provider: Provider, config: OidcConfig, id_token: str, after: str) -> str | None:
    """RP-initiated logout at the provider, when it offers one: it returns the browser to `after`."""
    if not provider.end_session_endpoint:
        return None
    query = httpx2.QueryParams({'id_token_hint': id_token, 'post_logout_redirect_uri': after,
                               'client_id': config.client_id})
    separator = '&' if '?' in provider.end_session_endpoint else '?'
    return f'{provider.end_session_endpoint}{separator}{query}'
