"""One moto server on 127.0.0.1 for the AWS tests, with fake credentials in the environment."""

import pytest
from moto.server import ThreadedMotoServer

# The S3 and Athena fixtures, shared by every module here without importing them one by one.
from hc_pipeline_tests.test_aws.athena_fixtures import athena_proxy, moto_athena  # noqa: F401
from hc_pipeline_tests.test_aws.s3_fixtures import fault_proxy, s3_endpoint, s3_resources  # noqa: F401

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    # Keep every request on the loopback even if the machine has a proxy configured.
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


@pytest.fixture(scope="session")
def moto_server():
    """The endpoint URL, http://127.0.0.1:PORT, of a moto server shared by the session."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_AWS_ENV.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()
