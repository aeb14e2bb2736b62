from tests.support.smtp import mailbox  # noqa: F401 - the fixture
