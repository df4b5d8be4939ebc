"""A moto server on 127.0.0.1 for the end-to-end module, with fake AWS credentials for us and the subprocesses."""

import os

import pytest
from moto.server import ThreadedMotoServer

from bench.deployment import FAKE_AWS


@pytest.fixture(scope="module")
def moto_endpoint():
    saved = {k: os.environ.get(k) for k in FAKE_AWS}
    os.environ.update(FAKE_AWS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
