"""RQ job functions, queue names and the scheduler's cron table.

Thin wrappers: every job takes ids only (RQ stores arguments in Redis in clear) and calls
one domain function in ``tipline``.
"""
