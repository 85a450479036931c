"""Sphinx configuration of fastprop's reference documentation.

The sources live in docs/ beside the benchmark artefacts (tuning.md, *.json, *.png), which
the pages link or include; only .rst and .md files are read as pages. The API pages are built
by autodoc from the docstrings of the *installed* package (numpydoc style, read by napoleon):
build from outside the checkout, as .ci/docs does, so that `import fastprop` finds the
compiled install, not the uncompiled fastprop/ of the checkout:

    pip install ".[docs]"    # or: pip install sphinx myst-parser
    cd /tmp && python -m sphinx -W -b html /path/to/fastprop/docs /tmp/fastprop-docs
"""
import sys

try:
    import fastprop
except ImportError as exc:      # the usual cause: run from the checkout, whose fastprop/ is
    sys.exit(f"docs/conf.py: cannot import the installed fastprop ({exc}); install it "
             f"(pip install .) and run sphinx-build from outside the checkout")

project = "fastprop"
author = "the fastprop developers"
release = version = fastprop.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "myst_parser",          # the Markdown pages: benchmark results (README) and tuning notes
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "*.json", "*.png"]
# `name` in a docstring is a reference to a Python object where one exists (plain text
# otherwise: nitpicky is off, the API's own cross-references are checked by reading).
default_role = "py:obj"

# numpydoc-style docstrings (Parameters / Returns / Raises); Attributes as field lists, so
# that a dataclass's fields are not described twice. Types stay text ("array_like, shape
# (n, n_in)"): as :type: fields each word would become a cross-reference, and n_in names
# both Network.n_in and Dense.n_in.
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True
napoleon_use_param = False
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# numpy's ArrayLike is a union of a dozen types: shown by its name
autodoc_type_aliases = {name: name for name in
                        ("ArrayLike", "DTypeLike", "FloatArray", "Seed", "PathLike",
                         "CallbackLike")}

# The README's results section starts at "###" headings inside a page whose title is "#".
suppress_warnings = ["myst.header"]
myst_heading_anchors = 3

html_theme = "alabaster"
html_title = f"fastprop {release}"
