"""Text keys for catalogue search: folding, tokens, light stemming, transliteration-tolerant
phonetic keys and place-name aliases.

Indian product and place names reach us in many romanisations ("Banarasi", "Benares",
"Varanasi"; "saree"/"sari"; "Channapatna"/"Chanapatna"). Three layers absorb that:

1. ``fold`` + ``stem``: case, accents, punctuation, plural ``s``/``es``.
2. ``phonetic``: an Indic-romanisation key (aspirates dropped: bh->b, sh->s, ph->f; w->v, z->j,
   doubled letters collapsed, vowels after the first letter removed). Used only for tokens of
   5+ letters, where collisions are rare.
3. ``ALIASES``: renamed places and demonyms that share no spelling with the official name
   (Banaras/Kashi -> Varanasi, Bangalore -> Bengaluru, Orissa -> Odisha...).
"""

from __future__ import annotations

import re
import unicodedata

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
STOPWORDS = frozenset({
    "a", "an", "and", "the", "of", "from", "in", "for", "with", "by", "to", "at", "on", "near",
    "buy", "online", "india", "indian", "best",
})
# alternative name (folded) -> official token(s) as they appear in the ODOP list / catalogue
ALIASES: dict[str, tuple[str, ...]] = {
    "banaras": ("varanasi",), "banarasi": ("varanasi",), "benares": ("varanasi",),
    "benarasi": ("varanasi",), "kashi": ("varanasi",), "benaras": ("varanasi",),
    "bangalore": ("bengaluru",), "bengalore": ("bengaluru",), "bombay": ("mumbai",),
    "calcutta": ("kolkata",), "madras": ("chennai",), "poona": ("pune",),
    "mysore": ("mysuru",), "baroda": ("vadodara",), "trivandrum": ("thiruvananthapuram",),
    "cochin": ("ernakulam",), "kochi": ("ernakulam",), "orissa": ("odisha",),
    "oriya": ("odisha",), "odia": ("odisha",), "pondicherry": ("puducherry",),
    "gurgaon": ("gurugram",), "allahabad": ("prayagraj",), "conjeevaram": ("kancheepuram",),
    "kanchipuram": ("kancheepuram",), "kanjivaram": ("kancheepuram",),
    "kanjeevaram": ("kancheepuram",), "jaipuri": ("jaipur",), "lucknowi": ("lucknow",),
    "kashmiri": ("kashmir",), "bengali": ("bengal",), "assamese": ("assam",),
    "gujarati": ("gujarat",), "rajasthani": ("rajasthan",), "punjabi": ("punjab",),
    "sari": ("saree",), "saris": ("saree",), "saaree": ("saree",), "shawl": ("shawls",),
    "pattachitra": ("patachitra",), "madhubani": ("madhubani", "madhubhani"),
    "chikankari": ("chikan",), "terracota": ("terracotta",), "teracotta": ("terracotta",),
    "handlooms": ("handloom",), "handicrafts": ("handicraft",), "toy": ("toys",),
}
_PHONETIC_RULES = (
    ("aa", "a"), ("ee", "i"), ("oo", "u"), ("ou", "u"), ("ph", "f"), ("bh", "b"),
    ("dh", "d"), ("th", "t"), ("kh", "k"), ("gh", "g"), ("chh", "c"), ("ch", "c"),
    ("sh", "s"), ("jh", "j"), ("ck", "k"), ("w", "v"), ("z", "j"), ("q", "k"), ("x", "ks"),
    ("y", "i"),
)
_VOWELS = re.compile(r"(?<=.)[aeiou]+")
_DOUBLES = re.compile(r"(.)\1+")
MIN_PHONETIC = 5


def fold(text: str) -> str:
    """Lower-case ASCII words separated by single spaces ("Bandhej & Bandhani" -> ...)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("&", " and ")
    return _NON_ALNUM.sub(" ", text).strip()


def stem(token: str) -> str:
    """Plural endings only: aggressive stemming hurts proper names more than it helps."""
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 4 and token.endswith(("ches", "shes", "sses", "xes")):
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def tokens(text: str) -> list[str]:
    """Folded, stemmed tokens without stop words."""
    return [stem(t) for t in fold(text).split() if t not in STOPWORDS]


def phonetic(token: str) -> str | None:
    """Romanisation-tolerant key, or ``None`` for short or numeric tokens."""
    if len(token) < MIN_PHONETIC or not token.isalpha():
        return None
    key = token
    for old, new in _PHONETIC_RULES:
        key = key.replace(old, new)
    key = _DOUBLES.sub(r"\1", key)
    key = key.replace("h", "") if len(key) > 1 else key
    key = _VOWELS.sub("", key)
    return _DOUBLES.sub(r"\1", key)


def aliases(token: str) -> tuple[str, ...]:
    """Official tokens for an alternative name (looked up by folded form and by stem)."""
    found = ALIASES.get(token) or ALIASES.get(stem(token))
    return tuple(stem(t) for t in found) if found else ()


def deletes(token: str) -> set[str]:
    """All strings one deletion away (SymSpell): two words within one edit share one."""
    return {token[:i] + token[i + 1:] for i in range(len(token))}


def within_edits(a: str, b: str, limit: int) -> bool:
    """Levenshtein distance of ``a`` and ``b`` is at most ``limit`` (banded, early exit)."""
    if abs(len(a) - len(b)) > limit:
        return False
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1,
                             previous[j - 1] + (ca != cb))
        if min(current) > limit:
            return False
        previous = current
    return previous[-1] <= limit
