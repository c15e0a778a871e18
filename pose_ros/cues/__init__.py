"""Cues: what a robot reacts to (raised hand, wave, pointing, palm, thumbs up, facing, approach),
per tracked person, from the pipeline's 2D, 3D and hands. See cues/engine.py."""
