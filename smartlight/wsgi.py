"""The WSGI application gunicorn serves (Procfile `web`).

Everything loaded at start (Django, the apps, boto3's service models: a few hundred thousand
objects that live as long as the process) is moved out of the garbage collector's reach once
loaded: a full collection would otherwise walk all of them and pause a request for 100-300 ms.
"""

import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartlight.settings")

application = get_wsgi_application()
import_module(settings.ROOT_URLCONF)  # the views and the API, otherwise loaded by a request

gc.collect()
gc.freeze()
