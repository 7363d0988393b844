"""Look and feel shared by every page."""

PRODUCT = 'Audit Logs'
STATUS_COLORS = {'SUCCESS': 'positive', 'FAILED': 'negative'}
HEADER_CLASSES = 'items-center justify-between bg-slate-800 text-white'
