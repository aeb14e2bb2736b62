"""Where tips enter: the web form (and, later, the SMS webhook)."""
