"""AWS clients built one way (region, endpoint, standard retries), and s3fs configured from the same settings."""

import os
import threading
from collections.abc import Mapping
from typing import Any

MAX_ATTEMPTS = 5
# A dead endpoint fails in seconds, not minutes (botocore's default connect timeout is 60 s per attempt).
CONNECT_TIMEOUT, READ_TIMEOUT = 10, 60
# Connections a client keeps open (botocore's default: 10): a tick's HEADs and deletes go this many at a time.
POOL_CONNECTIONS = 32
_CLIENTS: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def region_from(env: Mapping[str, str]) -> str | None:
    """The AWS region the deployment names: botocore reads only AWS_DEFAULT_REGION; Lambda, ECS, shells set AWS_REGION."""
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None


def client(
    service: str, region_name: str | None = None, endpoint_url: str | None = None, max_attempts: int = MAX_ATTEMPTS
):
    """A boto3 client, one per process and settings: clients are thread-safe, and building one loads botocore's
    service models (~0.2 s), which a sensor would otherwise pay on every tick. Credentials come by the chain."""
    # The environment's region and credentials are part of the settings: a changed environment gets its own client.
    env = tuple(
        os.environ.get(name) for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID")
    )
    key = (service, region_name, endpoint_url, max_attempts, env)
    with _LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = _new_client(service, region_name, endpoint_url, max_attempts)
        return _CLIENTS[key]


def _new_client(service: str, region_name: str | None, endpoint_url: str | None, max_attempts: int):
    """A client from its own session (sessions are not thread-safe; clients are)."""
    import boto3  # on first use: a local deployment's code location never needs it
    from botocore.config import Config

    return boto3.session.Session().client(
        service,
        region_name=region_name,
        endpoint_url=endpoint_url,
        config=Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            max_pool_connections=POOL_CONNECTIONS,
            user_agent_extra="hc-pipeline",
        ),
    )


def s3fs_client_kwargs(region_name: str | None = None, endpoint_url: str | None = None) -> dict[str, Any]:
    """The same region and endpoint as s3fs's `client_kwargs`; empty when neither is set."""
    return {k: v for k, v in (("endpoint_url", endpoint_url), ("region_name", region_name)) if v}


def s3fs_config_kwargs() -> dict[str, Any]:
    """s3fs's botocore config: the same retries and timeouts as our boto3 clients (aiobotocore's default is legacy)."""
    return {
        "retries": {"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        "connect_timeout": CONNECT_TIMEOUT,
        "read_timeout": READ_TIMEOUT,
    }
