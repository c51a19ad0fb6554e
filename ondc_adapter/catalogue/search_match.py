"""How a ``SearchIndex`` (``search``) answers a query.

Matching: each query token expands to vocabulary tokens with a quality (exact 1.0, alias 0.95,
stem/prefix 0.8, phonetic 0.7, one edit 0.6); an item matches when *every* query token matches
one of its tokens (name, category, ODOP product, district, state, sector, provider, brand,
colour). Results are ranked by summed quality, then id.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ondc_adapter.catalogue import text
from ondc_adapter.catalogue.intent import Query

if TYPE_CHECKING:
    from ondc_adapter.catalogue.search import _Doc, _ProviderInfo

EXACT, ALIAS, STEM, PHONETIC, EDIT = 1.0, 0.95, 0.8, 0.7, 0.6


class Matching:
    """``SearchIndex``'s queries (a mixin: the postings are the index's fields)."""

    # the index's fields this part reads (declared in ``SearchIndex``)
    docs: dict[int, _Doc]
    postings: dict[str, set[int]]
    by_provider: dict[str, set[int]]
    by_lgd: dict[str, set[int]]
    by_domain: dict[str, set[int]]
    providers: dict[str, _ProviderInfo]
    phonetic_keys: dict[str, set[str]]
    delete_keys: dict[str, set[str]]
    _sorted_vocab: list[str] | None


    def _vocab(self) -> list[str]:
        if self._sorted_vocab is None:
            self._sorted_vocab = sorted(t for t, p in self.postings.items() if p)
        return self._sorted_vocab

    def expand(self, token: str) -> dict[str, float]:
        """Vocabulary tokens that ``token`` may stand for, with a match quality."""
        out: dict[str, float] = {}

        def offer(candidate: str, quality: float) -> None:
            if self.postings.get(candidate) and out.get(candidate, 0) < quality:
                out[candidate] = quality

        folded = text.fold(token).replace(" ", "")
        stemmed = text.stem(folded)
        offer(stemmed, EXACT)
        offer(folded, EXACT)
        for alias in text.aliases(folded):
            offer(alias, ALIAS)
        if stemmed.endswith("i") and len(stemmed) > 5:  # demonyms: Jaipuri -> Jaipur
            offer(stemmed[:-1], STEM)
        if len(stemmed) >= 4:
            vocab = self._vocab()
            start = bisect.bisect_left(vocab, stemmed)
            for candidate in vocab[start:start + 50]:
                if not candidate.startswith(stemmed):
                    break
                offer(candidate, STEM)
        key = text.phonetic(stemmed)
        if key:
            # same sound, and spelled close enough: phonetic keys alone over-merge
            # ("pottery" and "patturu" share one)
            for candidate in self.phonetic_keys.get(key, ()):
                if text.within_edits(candidate, stemmed, 2):
                    offer(candidate, PHONETIC)
            for target in text.aliases_by_sound().get(key, ()):
                offer(target, ALIAS * PHONETIC)
        if len(stemmed) >= text.MIN_PHONETIC and not out:
            for variant in (*text.deletes(stemmed), stemmed):
                for candidate in self.delete_keys.get(variant, ()):
                    offer(candidate, EDIT)
        return out

    def _text_scores(self, query_text: str) -> dict[int, float]:
        """Ordinal -> score for items matching every token. A text with no usable token
        (only stop words, or a script not romanised) matches nothing: a name the buyer typed
        must never widen into the whole catalogue.

        When no item matches every token of a multi-word query, the items matching the most
        tokens are returned instead ("blue pottery" finds pottery even without a blue one)."""
        words = [w for w in text.fold(query_text).split() if w not in text.STOPWORDS]
        if not words:
            return {}
        per_word: list[dict[int, float]] = []
        for word in words:
            best: dict[int, float] = {}
            for candidate, quality in self.expand(word).items():
                for ordinal in self.postings[candidate]:
                    if best.get(ordinal, 0.0) < quality:
                        best[ordinal] = quality
            per_word.append(best)
        per_word.sort(key=len)
        scores = {o: s for o, s in per_word[0].items()}
        for best in per_word[1:]:
            scores = {o: s + best[o] for o, s in scores.items() if o in best}
            if not scores:
                break
        if scores or len(per_word) == 1:
            return scores
        counts: dict[int, tuple[int, float]] = {}
        for best in per_word:
            for o, q in best.items():
                n, total = counts.get(o, (0, 0.0))
                counts[o] = (n + 1, total + q)
        if not counts:
            return {}
        most = max(n for n, _ in counts.values())
        return {o: total for o, (n, total) in counts.items() if n == most}

    def search(self, query: Query) -> list[str]:
        """Ids of live items matching ``query``, best first."""
        candidates: set[int] | None = None

        def narrow(ordinals: Iterable[int]) -> None:
            nonlocal candidates
            candidates = set(ordinals) if candidates is None else candidates & set(ordinals)

        if query.provider_id:
            narrow(self.by_provider.get(query.provider_id, ()))
        if query.lgd_codes:
            narrow(o for code in query.lgd_codes for o in self.by_lgd.get(code, ()))
        scores: dict[int, float] = {}
        if query.text:
            scores = self._text_scores(query.text)
            narrow(scores)
        if query.provider_name:
            narrow(self._text_scores(query.provider_name))
        if candidates is None:
            candidates = set(self.by_domain.get(query.domain, ())) if query.domain else set(
                self.docs
            )
        out: list[tuple[float, str]] = []
        for ordinal in candidates:
            doc = self.docs[ordinal]
            if query.domain and doc.domain != query.domain:
                continue
            if query.category_id and doc.category_id != query.category_id:
                continue
            if query.gi_only and not doc.gi:
                continue
            if query.states and doc.state not in query.states:
                continue
            if query.districts and doc.district not in query.districts:
                continue
            if query.sectors and doc.sector not in query.sectors:
                continue
            provider = self.providers.get(doc.provider_id)
            if provider is not None and not provider.enabled:
                continue
            if query.facts and (provider is None or not query.facts <= provider.facts):
                continue
            out.append((-scores.get(ordinal, 0.0), doc.id))
        out.sort()
        return [item_id for _, item_id in out]
