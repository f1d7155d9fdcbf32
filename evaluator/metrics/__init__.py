"""One module per metric; each takes decoded media and returns plain numbers."""
