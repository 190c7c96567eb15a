# Read by the flask command (python-dotenv) when run from the repository root;
# the real environment wins over these. Settings and secrets do not go here.
FLASK_APP=app
# `flask --debug run` restarts when one of these changes, besides the Python
# files: a new page or a changed slug needs new URL rules. Edits to existing
# files are also picked up per request in debug. List every content file
# (separated by ":"); tests/test_content.py fails when one is missing.
FLASK_RUN_EXTRA_FILES=content/site.yaml:content/pages/immunotherapy.yaml:content/pages/privacy.yaml:content/wallet-card.yaml
