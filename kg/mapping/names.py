"""Normalisation of free-text drug and disease names, so names from different sources meet.

Clinical sources name the same thing in many ways: ``ATORVASTATIN.CALCIUM`` (CMS),
``24 HR metoprolol succinate 100 MG Extended Release Oral Tablet`` (RxNorm via
Synthea), ``Ciprofloxacin HCl`` (MIMIC), ``Acute kidney failure, unspecified``
(ICD-9 titles). These helpers reduce such strings to a canonical lower-case form
and generate the fallbacks (without the salt, without the qualifier) that a
matcher tries in order, most specific first.
"""

from __future__ import annotations

import re

__all__ = [
    "normalise",
    "strip_drug_product",
    "split_ingredients",
    "salt_free_forms",
    "is_salt_word",
    "disease_name_candidates",
]

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalise(text: str) -> str:
    """Lower case, every run of punctuation or space replaced by one space.

    >>> normalise("  Crohn's   Disease ")
    'crohn s disease'
    """
    return _NON_ALNUM.sub(" ", text.lower()).strip()


# Salt, ester and counter-ion words that DrugBank usually leaves out of a drug's name.
_SALT_WORDS = frozenset("""
    hcl hbr hydrochloride dihydrochloride hydrobromide hyclate sodium potassium calcium magnesium
    besylate bitartrate tartrate succinate maleate mesylate fumarate citrate sulfate sulphate
    acetate propionate dipropionate furoate bromide chloride phosphate carbonate gluconate
    oxalate monohydrate trihydrate dihydrate hemifumarate disodium hydrate salt mono macro
    tromethamine lysine xinafoate valerate cypionate enanthate decanoate pamoate embonate
    mononitrate dinitrate anhydrous extended bisulfate sod na succ macrocrystals monohydrate
    porcine human usp cilexetil napsylate nap
""".split())

# Dose forms, release modifiers and packaging words of RxNorm and CMS product names.
_PRODUCT_WORDS = frozenset("""
    oral tablet tablets tab tabs capsule capsules cap caps chewable disintegrating film coated
    solution suspension syrup elixir injection injectable inj prefilled syringe pen cartridge
    auto injector inhaler inhalation metered dose dry powder nebulizer neb soln aerosol spray
    nasal ophthalmic otic topical cream ointment gel lotion patch transdermal system mucosal
    rectal suppository vaginal ring implant intrauterine drug enteric delayed release extended
    er xr xl sr cr cd la dr odt hfa diskus respimat flexpen solostar kwikpen pack day
    actuat abuse deterrent hr liquid powder packet premix bag vial flush iv po sc im
    sublingual buccal kit pump mg ml mcg unt meq l hour ec enema ss ds ophth oint drops
    mdi pca chewable per w nf sl jelly viscous pf p f susp liq lock acetonide proxetil
    medoxomil study ind xt sprinkles soluble hp
""".split())

_NUMBER = re.compile(r"^\d+(\.\d+)?(%|mg|mcg|ml|g|meq|unt|hr|d)?$")
_NDA = re.compile(r"^(nda|anda|bla)\d+$")
_BRACKETS = re.compile(r"\[[^\]]*\]|\([^)]*\)")


def strip_drug_product(text: str) -> str:
    """Drop strengths, units, dose forms and packaging from a product name.

    >>> strip_drug_product("24 HR metoprolol succinate 100 MG Extended Release Oral Tablet")
    'metoprolol succinate'
    >>> strip_drug_product("ATORVASTATIN.CALCIUM")
    'atorvastatin calcium'
    """
    text = _BRACKETS.sub(" ", text)
    words = [w for w in normalise(text).split()
             if w not in _PRODUCT_WORDS and not _NUMBER.match(w) and not _NDA.match(w)]
    return " ".join(words)


def split_ingredients(text: str) -> list[str]:
    """The ingredient names of a (possibly combination) product, each stripped.

    RxNorm separates ingredients with `` / ``; MIMIC and CMS write ``A-B``, ``A/B``
    or ``A.B`` for a combination, which only the caller can disambiguate (it tries
    the whole name before splitting).

    >>> split_ingredients("Acetaminophen 300 MG / Hydrocodone Bitartrate 5 MG Oral Tablet")
    ['acetaminophen', 'hydrocodone bitartrate']
    """
    parts = re.split(r"\s+/\s+|/", _BRACKETS.sub(" ", text))
    out = [strip_drug_product(p) for p in parts]
    return [p for p in out if p]


def is_salt_word(word: str) -> bool:
    """Whether ``word`` names a salt or counter-ion (``hcl``, ``sodium``, ``succinate``...)."""
    return word in _SALT_WORDS


def salt_free_forms(name: str) -> list[str]:
    """``name`` followed by the forms left after removing salt words from the end, then anywhere.

    >>> salt_free_forms("metoprolol succinate")
    ['metoprolol succinate', 'metoprolol']
    """
    words = name.split()
    forms = [name]
    trimmed = list(words)
    while len(trimmed) > 1 and trimmed[-1] in _SALT_WORDS:
        trimmed.pop()
        forms.append(" ".join(trimmed))
    anywhere = [w for w in words if w not in _SALT_WORDS]
    if anywhere:
        forms.append(" ".join(anywhere))
    seen: dict[str, None] = {}
    for f in forms:
        seen.setdefault(f, None)
    return list(seen)


# Words that qualify a condition without changing which disease it is.
_QUALIFIERS = frozenset("""
    acute chronic childhood juvenile adult familial primary secondary severe mild moderate
    localized localised generalized recurrent unspecified other overlapping pure essential
    benign malignant uncomplicated simple idiopathic persistent history of viral bacterial
""".split())

# Clauses of ICD-9 titles that say how a condition was coded, not what it is.
_CODING_CLAUSES = re.compile(
    r",?\s*(not elsewhere classified|unspecified( site| type)?|organism unspecified|"
    r"without mention of [^,]*|with(out)? [^,]*complication[^,]*|not stated as [^,]*|"
    r"in conditions classified elsewhere|due to conditions classified elsewhere|"
    r"classified elsewhere|site unspecified|nos)\b", re.IGNORECASE)
_SEMANTIC_TAG = re.compile(r"\s*\((disorder|finding|situation|morphologic abnormality|"
                           r"procedure|event|qualifier value|person)\)\s*$", re.IGNORECASE)


def disease_name_candidates(text: str) -> list[str]:
    """Normalised forms of a condition name to try against ontology names, most specific first.

    >>> disease_name_candidates("Acute kidney failure, unspecified")[:2]
    ['acute kidney failure unspecified', 'acute kidney failure']
    >>> "asthma" in disease_name_candidates("Childhood asthma")
    True
    """
    out: list[str] = []

    def add(s: str) -> None:
        n = normalise(s)
        if n and n not in out:
            out.append(n)

    base = _SEMANTIC_TAG.sub("", text)
    add(base)
    cleaned = _CODING_CLAUSES.sub("", base)
    add(cleaned)
    head = cleaned.split(",")[0]
    add(head)
    for piece in re.split(r"\s+and/or\s+|\s+and\s+", head):
        add(piece)
    for form in list(out):
        words = form.split()
        while words and words[0] in _QUALIFIERS:
            words = words[1:]
            add(" ".join(words))
        stripped = [w for w in form.split() if w not in _QUALIFIERS]
        add(" ".join(stripped))
        if form.endswith("s") and not form.endswith("ss") and len(form) > 4:
            add(form[:-1])
    return out
