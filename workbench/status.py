"""The status words every table of the package uses for a cell, and the word a reader sees.

A figure is ``ok``, ``missing`` (the source has none) or ``suppressed`` (withheld by disclosure control or
secret in the source). Suppressed and missing become NaN with their status, never 0.
"""
OK, MISSING, SUPPRESSED = "ok", "missing", "suppressed"
SUPPRESSED_LABEL = "onderdrukt"  # what a reader sees instead of a suppressed figure
