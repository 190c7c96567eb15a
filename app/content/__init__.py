"""The content folder as typed, frozen objects, and its problems in the
words of the person editing the YAML.

models.py     what each file may hold (pydantic, unknown keys refused)
parity.py     English and Spanish side by side (model validators)
documents.py  one file read by ruamel.yaml: its data, lines, problems
messages.py   YAML and pydantic errors in the editor's words
load.py       load_content: every file, then the rules between files
launch.py     what the clinic must still give or review before launch
"""

from .launch import AWAITING_REVIEW
from .launch import launch_problems
from .load import ContentError
from .load import load_content
from .models import LANGUAGES
from .models import PRIVACY_PAGE
from .models import WALLET_CARD_FILE
from .models import Alert
from .models import BulletList
from .models import CallLanguage
from .models import CardFace
from .models import CardFields
from .models import CardText
from .models import Content
from .models import Location
from .models import Page
from .models import PageFile
from .models import PageText
from .models import Phone
from .models import Review
from .models import Section
from .models import Site
from .models import Source
from .models import Subsection
from .models import WalletCard

__all__ = [
    "AWAITING_REVIEW",
    "LANGUAGES",
    "PRIVACY_PAGE",
    "WALLET_CARD_FILE",
    "Alert",
    "BulletList",
    "CallLanguage",
    "CardFace",
    "CardFields",
    "CardText",
    "Content",
    "ContentError",
    "Location",
    "Page",
    "PageFile",
    "PageText",
    "Phone",
    "Review",
    "Section",
    "Site",
    "Source",
    "Subsection",
    "WalletCard",
    "launch_problems",
    "load_content",
]
