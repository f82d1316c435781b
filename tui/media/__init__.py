"""Rich media drawn as terminal text, without Textual: images, histograms, confusion matrices."""
