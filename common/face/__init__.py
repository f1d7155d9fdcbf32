"""Faces in photos: detection, landmarks, the mesh and the geometry measured on it."""
