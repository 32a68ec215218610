"""The project's root: the folder holding the model files, data.py, results/ and teachers/.

Every path that belongs to the project goes through ROOT, so that the trainer finds them wherever it
lives: in this repository, or copied with data.py and a model file into a notebook's folder.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
