"""The WSGI entry point: `gunicorn -c services/gateway/gunicorn.conf.py gateway.wsgi:app`."""
from gateway.app import create_app

app = create_app()
