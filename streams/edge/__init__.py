"""The edge, where outside data enters the log: carriers' CDR files, rate decks, and the sealing of
subscribers' numbers before anything is produced (R32)."""
