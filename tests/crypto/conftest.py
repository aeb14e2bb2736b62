import pytest

from tipline.crypto import PrivateKey, generate_private_key


# Module scope: ML-KEM keygen is cheap, but hypothesis calls tests hundreds of times.
@pytest.fixture(scope="module")
def key() -> PrivateKey:
    return generate_private_key()


@pytest.fixture(scope="module")
def other_key() -> PrivateKey:
    return generate_private_key()
