"""The coordinator board and the compliance report (`samverkan board`, `samverkan report`)."""
