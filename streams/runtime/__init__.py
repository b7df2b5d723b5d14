"""How a long-running voiceledger process (a worker, its authorization process) manages itself:
its garbage collection, timed between units of work."""
