"""Aggregate statistics that cannot be used to re-identify a tipster.

``request`` parses and checks what is asked (grouping keys, period, dates, format);
``aggregate`` counts in SQL over the clear routing metadata only (never decrypting);
``suppress`` applies disclosure control (small cells, complementary suppression, optional
random rounding); ``export`` writes CSV, JSON and GeoJSON. One function,
:func:`tipline.stats.export.build`, goes from a request to a published table.
"""
