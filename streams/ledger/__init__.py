"""Operations over the whole ledger that the CLI and other front ends call: verification,
rebuilds, and a subscriber's erasure and export (R32)."""
