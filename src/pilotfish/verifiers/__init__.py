"""pilotfish verifiers."""
