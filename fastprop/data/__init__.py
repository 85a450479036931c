"""Data sets that ship with fastprop (generated or small public ones)."""
