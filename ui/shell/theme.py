"""Look and feel shared by every page: colours that pass WCAG AA (4.5:1) in light and dark mode, and the
page's one level-one heading."""

import hashlib
from pathlib import Path

from nicegui import app, ui
from nicegui.elements.mixins.text_element import TextElement

PRODUCT = 'Audit Logs'
STATUS_COLORS = {'SUCCESS': 'positive', 'FAILED': 'negative'}
HEADER_CLASSES = 'items-center justify-between bg-slate-800 text-white'
# Quasar's defaults give white text 2.6:1 on green, 3.1:1 on blue. These give white text 5.0:1 (green),
# 6.5:1 (red) and 6.7:1 (blue), and the same contrast as text on a white page.
PRIMARY, POSITIVE, NEGATIVE = '#1d4ed8', '#15803d', '#b91c1c'
# Text in these colours on the dark page (#121212) needs lighter shades: 9.6:1, 8.8:1 and 6.6:1.
DARK_PRIMARY, DARK_POSITIVE, DARK_NEGATIVE = '#93c5fd', '#4ade80', '#f87171'
LINK = 'text-blue-700 dark:text-blue-300'
MUTED = 'text-slate-600 dark:text-slate-400'  # secondary text: 7.6:1 on white, 7.9:1 on the dark page
# Quasar's `!important` colour classes sit in NiceGUI's last CSS layer; an `!important` of an earlier layer
# (here `overrides`) wins over them, an unlayered one would not.
CSS = f"""
.body--dark * {{ --q-primary: {DARK_PRIMARY}; }}
@layer overrides {{
  .body--dark .q-btn.bg-primary.text-white {{ color: #0f172a !important; }}
  .body--dark .text-positive {{ color: {DARK_POSITIVE} !important; }}
  .body--dark .text-negative {{ color: {DARK_NEGATIVE} !important; }}
}}
.nicegui-link.{LINK.split()[0]} {{ color: {PRIMARY}; }}
.body--dark .nicegui-link.{LINK.split()[0]} {{ color: {DARK_PRIMARY}; }}
"""


# Tailwind's utilities for every class the pages can hold, built ahead (scripts/build-css) and served instead of
# NiceGUI's Tailwind browser build (`ui.run(tailwind=False)`, ui/app.py). That build rewrote its whole stylesheet
# whenever a class name it had not seen yet appeared, Quasar's own included, and the browser then restyled and
# laid out the whole page: measured in Chromium, 45 ms after the first Enter in Search, in which the page handled
# no message of the server's. (Keyword + Enter as a whole was no quicker without it: the server was still reading.)
TAILWIND_CSS = Path(__file__).parent / 'styles' / 'tailwind.css'
STYLES_PREFIX = '/_styles/'  # public: the sign-in page needs the stylesheet too


def tailwind_url() -> str:
    """Where the stylesheet is served: named by its content, so a browser may keep it for good."""
    digest = hashlib.sha256(TAILWIND_CSS.read_bytes()).hexdigest()[:16]
    return f'{STYLES_PREFIX}tailwind-{digest}.css'


def register() -> None:
    """Colours and styles for every page of the app."""
    app.colors(primary=PRIMARY, positive=POSITIVE, negative=NEGATIVE)
    url = app.add_static_file(local_file=TAILWIND_CSS, url_path=tailwind_url(), max_cache_age=365 * 24 * 3600)
    ui.add_head_html(f'<link rel="stylesheet" href="{url}">', shared=True)
    ui.add_css(CSS, shared=True)


def page_heading(text: str, *, visible: bool = True) -> TextElement:
    """The page's level-one heading (screen readers navigate by it); `visible=False` keeps it for them only."""
    return TextElement(tag='h1', text=text).classes('text-2xl font-semibold tracking-normal m-0' if visible
                                                    else 'sr-only')
