"""Training: the Keras networks, fitting and saving an artifact, and fitting its point policy.

The only part of the package that imports Keras (and so TensorFlow); the web never imports it.
"""
