"""Files and folders: atomic writes, paths kept inside their roots, retention, model files from wheels."""
