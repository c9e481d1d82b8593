"""Rewrites of a claim: meaning-preserving paraphrases (rule-based: attribution dropped or moved,
first clause kept, aside dropped, discourse marker dropped, news-vocabulary synonyms) and the added
detail that makes a claim unsupported (a clause from elsewhere, a relative clause, a qualifier).

Pure functions of (sentence, random generator): the claim data and the cloze questions use them.
"""

from __future__ import annotations

import random
import re

from .facts import end_sentence, entities, short_clause

SYNONYMS = {
    "said": "stated", "says": "states", "firm": "company", "company": "firm", "rose": "climbed", "fell": "dropped",
    "bought": "acquired", "about": "around", "biggest": "largest",
    "expected": "anticipated", "because of": "due to", "announced": "revealed", "plans": "intends",
    "however": "but", "almost": "nearly", "nearly": "almost", "shares": "stock", "help": "assist",
    "start": "begin", "began": "started", "government": "administration", "film": "movie", "movie": "film",
    "also": "additionally", "showed": "indicated",
    "increase": "rise", "need": "require", "more than": "over", "cut": "reduce", "quit": "left",
    # news vocabulary: verbs
    "told": "informed", "warned": "cautioned", "claimed": "asserted", "added": "went on to say",
    "believes": "thinks", "believed": "thought", "hopes": "is hoping", "wants": "wishes", "wanted": "wished",
    "decided": "chose", "agreed": "consented", "refused": "declined", "rejected": "turned down",
    "criticised": "attacked", "praised": "commended", "suggested": "proposed", "argued": "contended",
    "admitted": "conceded", "denied": "rejected claims", "insisted": "maintained", "confirmed": "verified",
    "launched": "introduced", "unveiled": "presented", "released": "issued", "published": "put out",
    "reported": "disclosed", "revealed": "disclosed", "raised": "increased", "reduced": "lowered",
    "boosted": "lifted", "hit": "struck", "beat": "defeated", "won": "secured", "scored": "netted",
    "signed": "agreed", "joined": "linked up with", "left": "departed", "arrived": "turned up",
    "returned": "came back", "received": "got", "gave": "handed", "took": "took on", "made": "produced",
    "created": "set up", "built": "constructed", "developed": "designed", "bought out": "took over",
    "sold": "offloaded", "paid": "handed over", "cost": "set back", "earned": "made", "lost": "shed",
    "faces": "is facing", "face": "confront", "tried": "attempted", "try": "attempt", "used": "employed",
    "use": "employ", "allow": "permit", "allowed": "permitted", "stop": "halt", "stopped": "halted",
    "ended": "finished", "end": "finish", "continue": "carry on", "continued": "carried on",
    "remain": "stay", "remains": "stays", "remained": "stayed", "became": "turned into", "looked": "seemed",
    "called": "described", "named": "called", "chosen": "picked", "picked": "selected", "selected": "chosen",
    "appointed": "named", "elected": "voted in", "charged": "accused", "arrested": "detained",
    "jailed": "imprisoned", "banned": "barred", "fined": "penalised", "sued": "took legal action against",
    "investigate": "look into", "examined": "studied", "considered": "weighed", "expects": "anticipates",
    "estimated": "put", "forecast": "predicted", "predicted": "forecast", "planned": "intended",
    "aims": "seeks", "aimed": "sought", "needed": "required", "seen": "viewed", "watched": "viewed",
    "shows": "indicates", "show": "indicate", "found": "discovered", "find": "discover",
    # nouns / adjectives / adverbs
    "chief executive": "boss", "boss": "head", "spokesman": "representative", "spokeswoman": "representative",
    "minister": "government minister", "officials": "authorities", "firms": "companies", "companies": "firms",
    "profits": "earnings", "profit": "earnings", "sales": "revenue", "deal": "agreement", "agreement": "deal",
    "plan": "proposal", "plans to": "intends to", "proposals": "plans", "scheme": "programme", "rules": "regulations",
    "laws": "legislation", "law": "legislation", "talks": "negotiations", "match": "game", "game": "match",
    "side": "team", "team": "side", "club": "side", "players": "squad members", "fans": "supporters",
    "supporters": "fans", "injury": "knock", "victory": "win", "win": "victory", "defeat": "loss",
    "record": "all-time high", "figures": "numbers", "data": "figures", "rate": "level", "prices": "costs",
    "price": "cost", "market": "sector", "industry": "sector", "consumers": "customers", "customers": "clients",
    "users": "customers", "people": "individuals", "workers": "employees", "staff": "employees",
    "jobs": "posts", "country": "nation", "nation": "country", "world": "globe", "election": "poll",
    "leader": "head", "report": "study", "survey": "poll", "research": "study",
    "study": "research", "album": "record", "song": "track", "singer": "vocalist", "award": "prize",
    "prize": "award", "ceremony": "event", "programme": "show", "technology": "tech",
    "system": "setup", "service": "offering", "website": "site", "phone": "handset", "mobile": "mobile phone",
    "big": "large", "large": "big", "small": "little", "major": "big", "key": "important",
    "important": "significant", "significant": "substantial", "huge": "enormous", "new": "fresh",
    "recent": "latest", "latest": "most recent", "former": "ex-", "top": "leading", "leading": "top",
    "main": "principal", "current": "present", "previous": "earlier", "early": "initial", "final": "last",
    "likely": "probable", "possible": "potential", "difficult": "hard", "hard": "tough", "strong": "robust",
    "weak": "feeble", "quickly": "rapidly", "recently": "lately", "currently": "at present",
    "previously": "earlier", "already": "by now", "still": "yet", "only": "just", "just": "only",
    "around": "roughly", "approximately": "about", "roughly": "around", "mainly": "mostly", "mostly": "largely",
    "largely": "mainly", "very": "highly", "really": "truly", "however,": "but", "although": "though",
    "though": "although", "while": "whereas", "because": "since", "since": "as", "despite": "in spite of",
    "following": "after", "during": "in the course of", "before": "prior to", "next year": "in the coming year",
    "last year": "the previous year", "this year": "in the current year", "per cent": "percent",
}
_SYN_KEYS = sorted(SYNONYMS, key=len, reverse=True)
QUALIFIERS = [
    "on Wednesday", "for the first time", "unanimously", "in London", "last year", "according to analysts",
    "by a record margin", "in a bid to cut costs", "despite fierce opposition", "after months of talks",
    "earlier this month", "in a private meeting", "with the backing of the government", "for a second year running",
    "following a police investigation", "amid strong demand from China", "to the surprise of fans",
    "under pressure from shareholders", "in an interview with the BBC", "at a ceremony in Los Angeles",
    "after a late surge", "in the final minute", "by more than a third", "in the US and Europe", "on Friday night",
    "for £2m", "over the next five years", "since 1999", "without consulting ministers", "as a result of the strike",
]
CONNECTORS = ["and", "after", "because", "while", "as", "although", "and said that", "which means", "so"]


def paraphrase_rules(s: str, rng: random.Random) -> str:
    """A meaning-preserving rewrite (may return ``s`` unchanged)."""
    out = s.strip()
    ops = rng.sample(["marker", "attribution", "clause", "synonym", "synonym2", "reorder", "drop-aside"],
                     k=rng.randint(2, 4))
    for op in ops:
        if op == "marker":
            out = re.sub(r"^(But|And|However|Meanwhile|Also|So|Yet|In addition|Indeed),?\s+(\w)",
                         lambda m: m.group(2).upper(), out)
        elif op == "attribution":
            m = re.match(r'^"?(.+?),?"?\s*,?\s+(?:he|she|they|it|[A-Z][\w.\s\']{0,40}?)\s+(?:said|says|added|told [\w\s]+)\.?"?$', out)
            if m and len(m.group(1).split()) >= 5:
                out = end_sentence(m.group(1).strip(' "'))
            else:
                m = re.match(r"^([A-Z][\w'\s.]{0,50}?)\s+(?:said|says|told [\w\s]{1,20}?)\s+(?:that\s+)?(.+)$", out)
                if m and len(m.group(2).split()) >= 5 and '"' not in m.group(2):
                    out = end_sentence(m.group(2)[0].upper() + m.group(2)[1:])
        elif op == "clause":
            parts = re.split(r",\s+(?:and|but|while|which|who)\s+|;\s+", out)
            if len(parts) > 1 and len(parts[0].split()) >= 6:
                out = end_sentence(parts[0])
        elif op == "reorder":
            m = re.match(r'^(.{25,}?),\s+(?:he|she|they)\s+(said|added|told [\w\s]+?)\.?$', out)
            m2 = re.match(r"^([A-Z][\w'.\-]*(?:\s+[A-Z][\w'.\-]*){0,3})\s+said\s+(?:that\s+)?(.{20,})$", out)
            if m2 and '"' not in out:
                out = end_sentence(f"According to {m2.group(1)}, {m2.group(2).rstrip('.')}")
            elif m and '"' not in out:
                out = end_sentence(m.group(1))
        elif op == "drop-aside":
            new = re.sub(r",\s+(?:who|which|whose)\s+[^,]{3,60},", "", out, count=1)
            new = re.sub(r"\s+\([^)]{1,40}\)", "", new, count=1)
            if new != out and len(new.split()) >= 6:
                out = new
        else:
            keys = [k for k in _SYN_KEYS if re.search(rf"\b{re.escape(k)}\b", out)]
            rng.shuffle(keys)
            for k in keys[: rng.randint(1, 3)]:
                out = re.sub(rf"\b{re.escape(k)}\b", SYNONYMS[k], out, count=1)
    return out


def add_detail(s: str, rng: random.Random, *, other: list[str] = (), context: str = "", **_: object) -> str | None:  # type: ignore[assignment]
    """The claim with a detail the context does not give."""
    base = s.strip().rstrip(".!?")
    if '"' in base:
        return None
    r = rng.random()
    if r < 0.45 and other:
        clause = short_clause(rng.choice(list(other)))
        if clause and clause.lower() not in context.lower():
            return end_sentence(f"{base}, {rng.choice(CONNECTORS)} {clause}")
    if r < 0.7:
        ents = entities(base)
        if ents and other:
            ent = ents[0]
            clause = short_clause(rng.choice(list(other)))
            if clause and base.count(ent) == 1:
                rel = "which" if clause.split()[0].islower() else "who"
                words = clause.split()
                verb_phrase = " ".join(words[1:]) if len(words) > 4 else None
                if verb_phrase:
                    return end_sentence(base.replace(ent, f"{ent}, {rel} {verb_phrase},", 1))
    q = rng.choice([q for q in QUALIFIERS if q.lower() not in context.lower()])
    return end_sentence(f"{base} {q}")

