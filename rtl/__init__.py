"""openmxu gateware (Amaranth 0.5)."""
