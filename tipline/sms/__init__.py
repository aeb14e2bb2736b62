"""SMS intake through Twilio: signed webhooks, the guided conversation, reply handles."""
