"""plantwin package."""
