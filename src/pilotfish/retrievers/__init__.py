"""pilotfish retrievers."""
