"""The content folder as typed, frozen objects, and its problems in the words
of the person editing the YAML.

models.py    what each file may hold (pydantic, unknown keys refused)
parity.py    English and Spanish side by side (run by the models)
messages.py  YAML and pydantic errors in the editor's words
load.py      load_content: every file checked, then the rules between files
launch.py    what the clinic must still give or review before launch
"""

from .launch import AWAITING_REVIEW as AWAITING_REVIEW
from .launch import launch_problems as launch_problems
from .load import ContentError as ContentError
from .load import load_content as load_content
from .models import LANGUAGES as LANGUAGES
from .models import WALLET_CARD_FILE as WALLET_CARD_FILE
from .models import Alert as Alert
from .models import BulletList as BulletList
from .models import Content as Content
from .models import Page as Page
from .models import Site as Site
from .models import Subsection as Subsection
