"""``voiceledger api``: the operator and integration HTTP API (issue 19), a process of its own."""
