"""The staff side: sign-in, sessions, the queue and the tip page."""
