"""SMS tests talk to a local fake of Twilio's REST API through the real SDK."""

from tests.support.fake_twilio import fake_twilio  # noqa: F401 - the fixture
