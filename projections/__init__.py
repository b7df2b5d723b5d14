"""The pure core: rating, account folds, money. No I/O, no clock."""

from projections.compiled import install

install()  # a stale compiled build never runs: the source does (projections/compiled.py)
