"""The portal's HTTP gateway: a Flask app under gunicorn's gthread worker (see app.py)."""
import warnings

# nameko imports eventlet (it never patches anything here: the gateway does not monkey-patch), and
# eventlet prints a deprecation banner on import, once per gunicorn worker. Silence just that one.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
