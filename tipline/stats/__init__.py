"""Aggregate statistics that cannot be used to re-identify a tipster.

Where things are, in the order a number travels:

- ``rollup``: exact counts of routed tips, kept in the same transaction as every change;
- ``catalogue``: the tables that can be published (by month, week part and day);
- ``cube``: one month of the rollup, and every cell of every table, as arrays;
- ``protect``: what to withhold, and the audit that proves it (tipline/stats/protect.py);
- ``ledger``: each month's release, made once after the month ended, kept as published;
- ``request``, ``tables``, ``export``: what is asked, the answer cut from the releases,
  and the answer as CSV, JSON or GeoJSON; ``charts`` and ``public`` draw the same answers.
"""
