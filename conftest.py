# nameko services need eventlet's monkey patch before anything imports socket or threading
# (plain pytest without it hangs; ARCHITECTURE.md). It must be the first thing pytest loads.
import eventlet

eventlet.monkey_patch()

pytest_plugins = ["servicekit.testing.fixtures"]
