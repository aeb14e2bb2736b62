from tests.support.fake_twilio import fake_twilio  # noqa: F401 - the fixture
