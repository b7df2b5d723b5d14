"""The pure core: rating, account folds, money. No I/O, no clock."""
