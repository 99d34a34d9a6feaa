"""The status words every table of the package uses for a cell, and the word a reader sees.

A figure is ``ok``, ``missing`` (the source has none) or ``suppressed`` (withheld by disclosure control or
secret in the source). Suppressed and missing become NaN with their status, never 0.
"""
OK, MISSING, SUPPRESSED = "ok", "missing", "suppressed"
SUPPRESSED_LABEL = "onderdrukt"  # what a reader sees instead of a suppressed figure

# Where a published figure comes from (tidy column ``basis``), and how a reader sees it (tooltips, notebooks).
BASIS_SOURCE = "source"        # the value as the source delivers it (CBS's own percentage or rate, or its own ratio of counts)
BASIS_COMPUTED = "computed"    # computed from counts the source delivers
BASIS_ESTIMATED = "estimated"  # computed with an estimated denominator (a fallback; catalogue: estimate: true)
BASIS_SUMMED = "summed"        # the source has no row (or no figure) for this area: counts summed from its parts
BASIS_LABELS = {
    BASIS_SOURCE: "cijfer zoals CBS het publiceert",
    BASIS_COMPUTED: "berekend uit CBS-aantallen",
    BASIS_ESTIMATED: "berekend met een geschatte noemer",
    BASIS_SUMMED: "opgeteld uit de buurten of wijken (de bron heeft geen eigen cijfer voor dit gebied)",
}
