"""Text as it is spoken: numbers, dates, symbols in words."""
