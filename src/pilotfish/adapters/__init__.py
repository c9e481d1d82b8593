"""pilotfish adapters."""
