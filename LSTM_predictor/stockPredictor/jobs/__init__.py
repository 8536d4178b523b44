"""Background jobs: the queue (Huey: SQLite in the instance folder by default, Redis through
REDIS_URL) that the web process submits to, and the worker process that runs them.

``queue`` never imports training, so the web process can submit; ``worker`` is what the
``stock-predictor worker`` command loads, the only place a job meets TensorFlow.
"""
