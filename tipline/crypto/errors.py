class CryptoError(Exception):
    """Base class for every failure of the crypto package."""


class SealError(CryptoError):
    """A ciphertext did not open: wrong key, wrong context, truncated or tampered."""


class WrongPassword(CryptoError):
    """A password-locked key did not unlock."""
