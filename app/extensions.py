"""The extension objects, unbound so that create_app can bind them to each app."""

from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

babel = Babel()
compress = Compress()
csrf = CSRFProtect()
# No default limits: only the appointment POST is limited, where it is declared.
limiter = Limiter(key_func=get_remote_address)
