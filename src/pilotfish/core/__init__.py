"""The pilotfish host core."""
