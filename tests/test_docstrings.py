"""Every public name of fastprop has a complete numpydoc docstring, the source of the
reference documentation (docs/api.rst): a Parameters section naming each parameter of the
signature, a Returns section where something is returned, and a docstring on every public
method and property. The public names are fastprop.__all__ and the public modules' __all__,
so a name added there without its documentation fails here."""
import dataclasses
import importlib
import inspect
import re

import pytest

import fastprop
from fastprop import (callbacks, distributed, gradients, optim, plotting, progress,
                      schedules)

# fastprop.explain the module: fastprop's attribute `explain` is the function of that name
explain_module = importlib.import_module("fastprop.explain")

SECTION = re.compile(r"^(\w[\w ]*)\n-{3,}$", re.M)


def _sections(doc):
    """{section title: its lines} of a numpydoc docstring."""
    marks = list(SECTION.finditer(doc))
    return {m.group(1): doc[m.end():marks[i + 1].start() if i + 1 < len(marks) else None]
            for i, m in enumerate(marks)}


def _documented_names(section):
    """The names a Parameters / Attributes section describes: its unindented lines, before
    " : ", split at commas ("X, y, epochs" or "rtol, atol : float")."""
    names = set()
    for line in section.splitlines():
        if line and not line[0].isspace():
            names.update(n.strip() for n in line.split(" : ")[0].split(","))
    return names


def _public_objects():
    names = {name: getattr(fastprop, name) for name in fastprop.__all__}
    for module in (schedules, callbacks, optim, gradients, progress, plotting, distributed,
                   explain_module):
        names.update({f"{module.__name__}.{n}": getattr(module, n) for n in module.__all__})
    names["fastprop.optim.Optimizer"] = optim.Optimizer
    return {k: v for k, v in names.items() if inspect.isclass(v) or inspect.isfunction(v)}


PUBLIC = _public_objects()


def _parameters(func):
    return [p.name for p in inspect.signature(func).parameters.values()
            if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _check_callable(label, func, doc, returns=True):
    assert doc, f"{label}: no docstring"
    sections = _sections(doc)
    params = _parameters(func)
    if params:
        assert "Parameters" in sections, f"{label}: no Parameters section for {params}"
        missing = set(params) - _documented_names(sections["Parameters"])
        assert not missing, f"{label}: parameters not documented: {sorted(missing)}"
    annotation = inspect.signature(func).return_annotation
    if returns and annotation not in (None, "None", inspect.Signature.empty):
        assert "Returns" in sections, f"{label}: returns {annotation} but has no Returns"


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_name_has_a_complete_numpydoc_docstring(name):
    obj = PUBLIC[name]
    doc = inspect.getdoc(obj)
    if inspect.isfunction(obj):
        _check_callable(name, obj, doc)
        return
    assert doc, f"{name}: no docstring"
    if dataclasses.is_dataclass(obj):         # fields are documented as Attributes
        sections = _sections(doc)
        assert "Attributes" in sections, f"{name}: a dataclass without an Attributes section"
        missing = {f.name for f in dataclasses.fields(obj)} - _documented_names(
            sections["Attributes"])
        assert not missing, f"{name}: fields not documented: {sorted(missing)}"
    elif "__init__" in vars(obj) or not issubclass(obj, BaseException):
        _check_callable(name, obj.__init__, doc, returns=False)
    # its own methods and those it inherits from fastprop's classes (Network's from Model)
    members = {}
    for cls in reversed(obj.__mro__):
        if cls.__module__.startswith("fastprop"):
            members.update(vars(cls))
    for attr, member in members.items():
        if attr.startswith("_"):
            continue
        if isinstance(member, property):
            assert inspect.getdoc(member), f"{name}.{attr}: a property without a docstring"
        elif inspect.isfunction(member):
            _check_callable(f"{name}.{attr}", member, inspect.getdoc(member))


def test_the_check_refuses_an_incomplete_docstring():
    def f(a, b):
        """Does something.

        Parameters
        ----------
        a : int
            The first.

        Returns
        -------
        int
        """
        return a + b

    def g(a) -> int:
        """Returns nothing documented.

        Parameters
        ----------
        a : int
        """
        return a

    with pytest.raises(AssertionError, match="not documented"):
        _check_callable("f", f, inspect.getdoc(f))
    with pytest.raises(AssertionError, match="no Returns"):
        _check_callable("g", g, inspect.getdoc(g))
