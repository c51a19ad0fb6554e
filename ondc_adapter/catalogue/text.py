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

Devanagari (Hindi, Marathi...) is romanised first (``romanise``: plain Hunterian-style letters,
no length marks, final inherent vowel dropped), so "बनारसी साड़ी" folds to "banarasi sari" and
then meets the layers above. Other scripts are not romanised: their words fold to nothing, and
a query of nothing but such words matches nothing (it never widens to the whole catalogue).
"""

from __future__ import annotations

import functools
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
    "benarasi": ("varanasi",), "banarsi": ("varanasi",), "kashi": ("varanasi",),
    "benaras": ("varanasi",),
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


# Devanagari -> Latin, by code point (escapes: several signs look like ASCII punctuation).
# Consonants carry the inherent "a" unless a vowel sign or the virama follows.
_DEVANAGARI_CONSONANTS = {
    chr(0x0915 + n): latin
    for n, latin in enumerate([
        "k", "kh", "g", "gh", "n", "ch", "chh", "j", "jh", "n",  # U+0915..U+091E
        "t", "th", "d", "dh", "n", "t", "th", "d", "dh", "n",  # U+091F..U+0928
        "n", "p", "ph", "b", "bh", "m", "y", "r", "r", "l",  # U+0929..U+0932
        "l", "l", "v", "sh", "sh", "s", "h",  # U+0933..U+0939
    ])
}
# consonant + nukta (U+093C): the Perso-Arabic and flapped sounds
_DEVANAGARI_NUKTA = {"\u0915": "q", "\u0916": "kh", "\u0917": "g", "\u091c": "z",
                     "\u0921": "r", "\u0922": "rh", "\u092b": "f", "\u092f": "y"}
_DEVANAGARI_VOWELS = {  # independent vowels U+0905..U+0914
    "\u0905": "a", "\u0906": "a", "\u0907": "i", "\u0908": "i", "\u0909": "u",
    "\u090a": "u", "\u090b": "ri", "\u090d": "e", "\u090f": "e", "\u0910": "ai",
    "\u0911": "o", "\u0913": "o", "\u0914": "au",
}
_DEVANAGARI_SIGNS = {  # dependent vowel signs U+093E..U+094C
    "\u093e": "a", "\u093f": "i", "\u0940": "i", "\u0941": "u", "\u0942": "u",
    "\u0943": "ri", "\u0945": "e", "\u0947": "e", "\u0948": "ai", "\u0949": "o",
    "\u094b": "o", "\u094c": "au",
}
_DEVANAGARI_MARKS = {"\u0901": "n", "\u0902": "n", "\u0903": "h"}  # candrabindu, anusvara, visarga
_VIRAMA, _NUKTA = "\u094d", "\u093c"
_DEVANAGARI = re.compile(r"[\u0900-\u097f]")


def romanise(text: str) -> str:
    """Devanagari letters in ``text`` written in Latin letters; anything else left as it is."""
    if not _DEVANAGARI.search(text):
        return text
    chars = unicodedata.normalize("NFD", text)  # precomposed nukta letters -> letter + nukta
    out: list[str] = []
    i = 0
    while i < len(chars):
        ch = chars[i]
        if ch in _DEVANAGARI_CONSONANTS:
            latin = _DEVANAGARI_CONSONANTS[ch]
            if i + 1 < len(chars) and chars[i + 1] == _NUKTA:
                latin = _DEVANAGARI_NUKTA.get(ch, latin)
                i += 1
            nxt = chars[i + 1] if i + 1 < len(chars) else ""
            if nxt in _DEVANAGARI_SIGNS:
                latin += _DEVANAGARI_SIGNS[nxt]
                i += 1
            elif nxt == _VIRAMA:
                i += 1
            elif _DEVANAGARI_CONSONANTS.get(nxt) or nxt in _DEVANAGARI_MARKS:
                latin += "a"
            # else: word end, the inherent vowel is not spoken ("बनारस" -> "banaras")
            out.append(latin)
        elif ch in _DEVANAGARI_VOWELS:
            out.append(_DEVANAGARI_VOWELS[ch])
        elif ch in _DEVANAGARI_MARKS:
            out.append(_DEVANAGARI_MARKS[ch])
        elif ch in (_NUKTA, _VIRAMA):
            pass
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def fold(text: str) -> str:
    """Lower-case ASCII words separated by single spaces ("Bandhej & Bandhani" -> ...)."""
    text = unicodedata.normalize("NFKD", romanise(text))
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


@functools.cache
def aliases_by_sound() -> dict[str, tuple[str, ...]]:
    """Phonetic key -> the stemmed official tokens of every alias with that sound. Computed
    once: every search word asks, and working it out per word was most of a name search."""
    found: dict[str, list[str]] = {}
    for alias, targets in ALIASES.items():
        key = phonetic(stem(alias))
        if key:
            found.setdefault(key, []).extend(stem(t) for t in targets)
    return {key: tuple(stems) for key, stems in found.items()}


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
