"""Avatar engines: sessions that turn speech segments (and silence) into frames."""
