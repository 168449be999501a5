"""Pay: rate cards, the earnings ledger, weekly pay runs, statements and payouts."""
