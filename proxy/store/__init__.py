"""Event stores: one interface (base.py), one module per backend."""
