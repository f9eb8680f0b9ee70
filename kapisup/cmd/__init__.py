"""Entry points: the kapisup command."""
