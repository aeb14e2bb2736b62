"""The web tipster's follow-up: sign in with reference + passphrase, read investigators'
messages and the reward decision, reply and add files."""
