"""The ``voiceledger`` command line: one module per command group, each parsing and printing only."""
