"""AWS clients built one way (region, endpoint, standard retries), and s3fs configured from the same settings."""

from collections.abc import Mapping
from typing import Any

MAX_ATTEMPTS = 5
# A dead endpoint fails in seconds, not minutes (botocore's default connect timeout is 60 s per attempt).
CONNECT_TIMEOUT, READ_TIMEOUT = 10, 60


def region_from(env: Mapping[str, str]) -> str | None:
    """The AWS region the deployment names: botocore reads only AWS_DEFAULT_REGION; Lambda, ECS, shells set AWS_REGION."""
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None


def client(
    service: str, region_name: str | None = None, endpoint_url: str | None = None, max_attempts: int = MAX_ATTEMPTS
):
    """A boto3 client from its own session (sessions are not thread-safe; clients are); credentials by the chain."""
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
