"""How big the scalable checks run: CI's bounded sizes, or ``pytest --long``'s.

Set once by tests/conftest.py's ``pytest_configure``, before test modules are collected,
so that decorators (hypothesis settings, parametrize) can read it.
"""

LONG = False
