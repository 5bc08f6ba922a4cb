# Sphinx configuration of the course's website; `make site` (python -m sitebuild) stages the
# pages from the notebooks and builds them with this file. Nothing is executed, and nothing
# a page loads comes from another host.

project = "Gradient descent, from the blind hiker to Adam"
author = "the course's authors"
copyright = "the course's authors, MIT licence"

extensions = ["myst_nb"]
exclude_patterns = ["chapters.md", "*/notebooks", "**/.ipynb_checkpoints"]
templates_path = ["_templates"]
html_static_path = ["_static"]  # sitebuild adds the MathJax copy
html_css_files = ["course.css"]

# MyST-NB: the committed outputs, as they are.
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # widget cells are shown as static figures (sitebuild.widgets)
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
# Cosmetic: a skipped heading level, a code block Pygments cannot lex. Every other warning
# (a link or image that does not resolve, an output that cannot be shown) fails the site's test.
suppress_warnings = ["myst.header", "misc.highlighting_failure"]

# MathJax 3 from the site's own copy; its fonts load from beside it.
mathjax_path = "mathjax/tex-mml-chtml.js"
# Without its noundefined package, an undefined macro is an error the site's test sees, not
# red text drawn as if it were typeset.
mathjax3_config = {"options": {"menuOptions": {"settings": {"assistiveMml": True}}},
                   "tex": {"packages": {"[-]": ["noundefined"]}}}

html_theme = "sphinx_book_theme"
html_title = "Gradient descent, from the blind hiker to Adam"
html_copy_source = False  # the pages' sources are the notebooks, offered as downloads instead
html_show_sourcelink = False
html_theme_options = {
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "navigation_with_keys": False,
}
html_last_updated_fmt = None
html_context = {"default_mode": "auto"}  # light or dark as the reader's system is
