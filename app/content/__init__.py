"""The content folder as typed, frozen objects, and its problems in the
words of the person editing the YAML.

models.py     what each file may hold (pydantic, unknown keys refused)
parity.py     English and Spanish side by side (model validators)
documents.py  one file read by ruamel.yaml: its data, lines, problems
messages.py   YAML and pydantic errors in the editor's words
load.py       load_content: every file, then the rules between files
launch.py     what the clinic must still give or review before launch
"""

# The names the rest of the site imports from ``app.content``.
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
from .models import Section as Section
from .models import Site as Site
from .models import Subsection as Subsection
from .models import WalletCard as WalletCard
