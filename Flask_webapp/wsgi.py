"""The app gunicorn serves (the Procfile's ``Flask_webapp.wsgi:app``): built when this is imported.

With ``--preload`` gunicorn imports this once in its master and forks the workers from it, so the
models, the sample's forecast tables and the migrated database are shared by every worker.
"""

import gc

from .app import create_app

app = create_app()
# Frozen, the objects made so far (modules, models, the sample's tables) are out of the
# collector's sight: a collection in a worker would otherwise write to each of them and so copy
# every page the workers share with the master.
gc.freeze()
