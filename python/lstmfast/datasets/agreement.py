r"""Subject–verb number agreement across a controllable distance.

The lesson
----------
Compare

    the cat , which already chased the mouse near the trees , was full
    the cats , which already chased the mouse near the trees , were full

Choosing *was* or *were* depends on one word, the subject noun, seen many steps
earlier. Nothing in between tells the two sentences apart, so a recurrent net can
only get the verb right if its hidden state a<t> (and, in an LSTM, its cell c<t>)
carries "singular or plural?" across every step in between. A vanilla RNN
multiplies that information by W_aa and squashes it with tanh at every step, so its
influence – and the gradient that would teach the net to keep it – tends to
vanish as the distance grows; the LSTM's additive cell update
c<t> = Γu * c~<t> + Γf * c<t-1> can keep it with Γf ≈ 1. This module makes
sentences whose *distance* (the number of words strictly between the subject
noun and the verb) you set exactly, so you can plot accuracy against distance.

**Attractors.** A noun of the other number inside the filler ("the cat near the
*trees* ... was") is an *attractor*: a model that merely remembers the most
recent noun will pick the wrong verb. With ``attractors=0`` every noun in the
filler has the subject's number, so "copy the number of the last noun" is always
right; :func:`last_noun_baseline` measures how far that shortcut falls once
attractors are added, which is why they make the task hard.

**Chance.** :func:`dataset` balances the classes (half singular, half plural),
so guessing – or always answering the same class – scores 0.5; see
:func:`chance_accuracy`. Accuracy near 0.5 at long distances means the net has
lost the subject.

Sentence template
-----------------
Every sentence is ``<det> <subject> <filler: exactly distance words> <verb> <adjective>``
(``the cat … was full``; ``el gato … estaba lleno``). The subject noun is at
position 1 and the verb at position ``distance + 2``. The filler is one of

* a location adverb of 0, 1 or 2 words ("outside", "over there") followed by
  prepositional phrases ("near the big black dogs"), or
* a relative clause between commas (", which already chased the mouse near
  the trees ,"; Spanish ", que los perros vieron con la niña ,"), whose words are
  counted too, commas included.

Each prepositional phrase is 3 to 5 words and holds exactly one noun, so up to
``distance // 3`` nouns – and hence attractors – fit (:func:`max_attractors`).
Only nouns carry number before the verb (in Spanish also the articles and
adjectives of their noun phrases): English past tenses ("ate", "chased") do not
inflect for number, and a Spanish relative clause's verb agrees with the
clause's own subject, a filler noun, not with the sentence's subject.

Encoding
--------
The net must predict the verb's number *from the words before it*, so
:func:`encode` feeds ``tokens[:verb_position]`` followed by a neutral ``<verb>``
token, and stops there (``lengths = verb_position + 1``). The ``<verb>`` step
is the same for both classes; it tells the net "answer now" and gives the
prediction a time step of its own, the one where ``mask`` is 1. Nothing after
the verb is fed either: in Spanish the adjective after the verb ("llenos")
would give the answer away.

Example
-------
>>> from lstmfast import agreement
>>> data = agreement.dataset(64, distances=[2, 8, 16], attractors=0, seed=0)
>>> data.x.shape[1:], data.targets.shape == data.mask.shape
((64, 124), True)
"""

from __future__ import annotations

import functools
import numbers as _numbers
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Union

import numpy as np

from .. import _checks

__all__ = [
    "LANGUAGES",
    "MAX_DISTANCE",
    "PLURAL",
    "SINGULAR",
    "AgreementData",
    "Encoded",
    "Sentence",
    "Vocabulary",
    "chance_accuracy",
    "dataset",
    "encode",
    "last_noun_baseline",
    "make_sentences",
    "max_attractors",
    "noun_numbers",
    "one_hot",
]

SINGULAR = 0
PLURAL = 1
LANGUAGES = ("en", "es")
MAX_DISTANCE = 1000  # a generous bound that keeps a typo from allocating gigabytes

SeedLike = Union[None, int, np.random.Generator, np.random.SeedSequence]

# Prepositional phrases are "prep + noun phrase"; the shortest noun phrase is
# "det + noun", the longest adds two modifier words.
_PP_MIN, _PP_MAX = 3, 5


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Sentence:
    """One generated sentence and what it is about.

    Attributes
    ----------
    tokens : tuple of str
        The whole sentence, punctuation included, e.g.
        ``("the", "cat", "outside", "was", "full")``.
    number : int
        The subject's number: 0 (:data:`SINGULAR`) or 1 (:data:`PLURAL`).
    subject_position : int
        Index of the subject noun in ``tokens`` (always 1).
    verb_position : int
        Index of the verb ("was"/"were", "estaba"/"estaban") in ``tokens``.
    distance : int
        Tokens strictly between subject and verb:
        ``verb_position - subject_position - 1``.
    attractors : int
        Nouns of the other number in the filler.
    noun_positions : tuple of int
        Indices of the filler's nouns (attractors or not).
    attractor_positions : tuple of int
        Indices of the attractors (a subset of ``noun_positions``).
    language : str
        "en" or "es".
    """

    tokens: tuple[str, ...]
    number: int
    subject_position: int
    verb_position: int
    distance: int
    attractors: int
    noun_positions: tuple[int, ...]
    attractor_positions: tuple[int, ...]
    language: str = "en"

    @property
    def text(self) -> str:
        """The tokens joined by spaces."""
        return " ".join(self.tokens)

    @property
    def subject(self) -> str:
        return self.tokens[self.subject_position]

    @property
    def verb(self) -> str:
        return self.tokens[self.verb_position]


# --------------------------------------------------------------------------- grammars


@dataclass(frozen=True)
class _Noun:
    singular: str
    plural: str
    gender: str = ""  # "m"/"f" in Spanish
    animate: bool = False
    human: bool = False

    def form(self, number: int) -> str:
        return self.plural if number else self.singular


@dataclass(frozen=True)
class _Frame:
    """The part of a filler outside its trailing prepositional phrases.

    ``length`` and ``slots`` (nouns) count only this part; the planner fills the
    rest of the distance with prepositional phrases of 3 to 5 words.
    """

    kind: str  # "plain" (location adverb) or "relative" (relative clause)
    length: int
    slots: int
    loc: int = 0  # plain: words of the location adverb (0, 1 or 2)
    adverb: bool = False  # relative: an adverb inside the clause
    object_len: int = 0  # relative: words of the clause's noun phrase (0: none)


def _pick(rng: np.random.Generator, items: Sequence[Any]) -> Any:
    return items[int(rng.integers(len(items)))]


class _Builder:
    """Collects tokens and remembers where the filler nouns are; holds the plan of
    the filler: the number of each noun slot in order, and the lengths of the
    prepositional phrases."""

    def __init__(self, slot_numbers: Iterator[int], pp_lengths: list[int]) -> None:
        self.tokens: list[str] = []
        self.nouns: list[int] = []
        self.slot_numbers = slot_numbers
        self.pp_lengths = pp_lengths

    def add(self, *words: str) -> None:
        self.tokens.extend(words)

    def add_noun(self, word: str) -> None:
        self.nouns.append(len(self.tokens))
        self.tokens.append(word)


class _Grammar:
    """What a language must provide; the planning and counting are shared."""

    language = ""
    subjects: tuple[_Noun, ...] = ()
    nouns: tuple[_Noun, ...] = ()  # all nouns; the filler draws from these
    prepositions: tuple[str, ...] = ()
    loc1: tuple[tuple[str], ...] = ()
    loc2: tuple[tuple[str, str], ...] = ()
    frames: tuple[_Frame, ...] = ()

    def subject(self, b: _Builder, noun: _Noun, number: int) -> None:
        raise NotImplementedError

    def noun_phrase(self, rng: np.random.Generator, b: _Builder, length: int, noun: _Noun, number: int) -> None:
        raise NotImplementedError

    def relative(self, rng: np.random.Generator, b: _Builder, frame: _Frame, subject: _Noun) -> None:
        raise NotImplementedError

    def predicate(self, rng: np.random.Generator, b: _Builder, subject: _Noun, number: int) -> None:
        raise NotImplementedError

    def extra_tokens(self) -> set[str]:
        """Tokens not reachable through nouns/prepositions/locations."""
        raise NotImplementedError

    # shared
    def prepositional_phrases(self, rng: np.random.Generator, b: _Builder) -> None:
        """The planned prepositional phrases, each with the next slot's number."""
        for length in b.pp_lengths:
            b.add(_pick(rng, self.prepositions))
            self.noun_phrase(rng, b, length - 1, _pick(rng, self.nouns), next(b.slot_numbers))

    def noun_numbers(self) -> dict[str, int]:
        table = {}
        for noun in self.nouns:
            table[noun.singular] = SINGULAR
            table[noun.plural] = PLURAL
        return table

    def all_tokens(self) -> set[str]:
        words = set(self.noun_numbers()) | set(self.prepositions) | {","}
        for loc in self.loc1 + self.loc2:
            words.update(loc)
        return words | self.extra_tokens()


def _relative_frames(base: int, adverbs: bool, object_lengths: Sequence[int]) -> list[_Frame]:
    frames = []
    for adverb in (False, True) if adverbs else (False,):
        for q in object_lengths:
            frames.append(_Frame("relative", base + adverb + q, int(q > 0), adverb=adverb, object_len=q))
    return frames


_PLAIN_FRAMES = [_Frame("plain", loc, 0, loc=loc) for loc in (0, 1, 2)]


class _English(_Grammar):
    language = "en"
    _animals = (
        ("cat", "cats"),
        ("dog", "dogs"),
        ("bird", "birds"),
        ("horse", "horses"),
        ("mouse", "mice"),
        ("fox", "foxes"),
        ("rabbit", "rabbits"),
    )
    _people = (
        ("child", "children"),
        ("boy", "boys"),
        ("girl", "girls"),
        ("man", "men"),
        ("woman", "women"),
        ("teacher", "teachers"),
        ("farmer", "farmers"),
        ("neighbor", "neighbors"),
    )
    _things = (
        ("tree", "trees"),
        ("house", "houses"),
        ("table", "tables"),
        ("box", "boxes"),
        ("garden", "gardens"),
        ("chair", "chairs"),
        ("window", "windows"),
        ("car", "cars"),
        ("door", "doors"),
        ("river", "rivers"),
        ("bridge", "bridges"),
        ("wall", "walls"),
        ("ball", "balls"),
        ("book", "books"),
        ("fence", "fences"),
    )
    subjects = tuple(_Noun(s, p, animate=True) for s, p in _animals) + tuple(
        _Noun(s, p, animate=True, human=True) for s, p in _people
    )
    nouns = subjects + tuple(_Noun(s, p) for s, p in _things)
    prepositions = ("near", "behind", "under", "beside", "with", "above", "from")
    loc1 = (("outside",), ("upstairs",), ("downstairs",), ("nearby",), ("inside",))
    loc2 = (("over", "there"), ("up", "there"), ("down", "there"), ("out", "there"), ("in", "there"))
    # ", which [adverb] verb [noun phrase of 2-4 words] ... ," : 4 words + adverb + object
    frames = tuple(_PLAIN_FRAMES + _relative_frames(4, True, (0, 2, 3, 4)))

    _sizes = ("big", "small", "old", "little", "tiny")
    _colours = ("black", "white", "brown", "grey", "red")
    _adverbs = ("already", "often", "never", "once", "quietly")
    _transitive = ("saw", "chased", "liked", "followed", "watched", "found", "passed")
    _intransitive = ("ate", "slept", "ran", "waited", "played", "sat", "hid")
    _states = ("full", "hungry", "tired", "happy", "sleepy", "calm", "late", "quiet", "lost")
    _be = ("was", "were")

    def subject(self, b: _Builder, noun: _Noun, number: int) -> None:
        b.add("the", noun.form(number))

    def noun_phrase(self, rng: np.random.Generator, b: _Builder, length: int, noun: _Noun, number: int) -> None:
        # "the dog" / "the black dog" / "the big black dog"
        b.add("the")
        if length == 3:
            b.add(_pick(rng, self._sizes + self._colours))
        elif length == 4:
            b.add(_pick(rng, self._sizes), _pick(rng, self._colours))
        b.add_noun(noun.form(number))

    def relative(self, rng: np.random.Generator, b: _Builder, frame: _Frame, subject: _Noun) -> None:
        b.add(",", "who" if subject.human else "which")
        if frame.adverb:
            b.add(_pick(rng, self._adverbs))
        if frame.object_len:
            b.add(_pick(rng, self._transitive))
            self.noun_phrase(rng, b, frame.object_len, _pick(rng, self.nouns), next(b.slot_numbers))
        else:
            b.add(_pick(rng, self._intransitive))
        self.prepositional_phrases(rng, b)
        b.add(",")

    def predicate(self, rng: np.random.Generator, b: _Builder, subject: _Noun, number: int) -> None:
        b.add(self._be[number], _pick(rng, self._states))

    def extra_tokens(self) -> set[str]:
        return {
            "the",
            "which",
            "who",
            *self._sizes,
            *self._colours,
            *self._adverbs,
            *self._transitive,
            *self._intransitive,
            *self._states,
            *self._be,
        }


def _es_inflect(base: str, gender: str, number: int) -> str:
    """Spanish adjective agreement: lleno/llena/llenos/llenas, grande/grandes."""
    if base.endswith("o"):
        stem = base[:-1] + ("a" if gender == "f" else "o")
        return stem + "s" if number else stem
    return base + "s" if number else base


class _Spanish(_Grammar):
    language = "es"
    subjects = (
        _Noun("gato", "gatos", "m", True),
        _Noun("perro", "perros", "m", True),
        _Noun("pájaro", "pájaros", "m", True),
        _Noun("caballo", "caballos", "m", True),
        _Noun("ratón", "ratones", "m", True),
        _Noun("vaca", "vacas", "f", True),
        _Noun("oveja", "ovejas", "f", True),
        _Noun("niño", "niños", "m", True, True),
        _Noun("niña", "niñas", "f", True, True),
        _Noun("hombre", "hombres", "m", True, True),
        _Noun("mujer", "mujeres", "f", True, True),
        _Noun("profesor", "profesores", "m", True, True),
    )
    nouns = (
        *subjects,
        _Noun("árbol", "árboles", "m"),
        _Noun("casa", "casas", "f"),
        _Noun("mesa", "mesas", "f"),
        _Noun("silla", "sillas", "f"),
        _Noun("caja", "cajas", "f"),
        _Noun("puerta", "puertas", "f"),
        _Noun("ventana", "ventanas", "f"),
        _Noun("jardín", "jardines", "m"),
        _Noun("río", "ríos", "m"),
        _Noun("puente", "puentes", "m"),
        _Noun("coche", "coches", "m"),
        _Noun("libro", "libros", "m"),
        _Noun("pelota", "pelotas", "f"),
        _Noun("muro", "muros", "m"),
    )
    # none of these contracts with "el" (unlike "de" -> "del", "a" -> "al")
    prepositions = ("con", "sin", "sobre", "bajo", "tras")
    loc1 = (("afuera",), ("arriba",), ("abajo",), ("aquí",), ("allí",))
    loc2 = (("allí", "arriba"), ("allá", "afuera"), ("ahí", "abajo"), ("aquí", "dentro"), ("allí", "dentro"))
    # ", que <noun phrase> [adverb] verb ... ," : 4 words + adverb + noun phrase (2-4)
    frames = tuple(_PLAIN_FRAMES + _relative_frames(4, True, (2, 3, 4)))

    _articles: ClassVar[dict[tuple[str, int], str]] = {("m", 0): "el", ("m", 1): "los", ("f", 0): "la", ("f", 1): "las"}
    _adjectives = ("negro", "blanco", "pequeño", "viejo", "rojo", "grande")
    _adverbs = ("ya", "nunca", "también")
    # the clause's verb agrees with the clause's subject (a filler noun)
    _verbs = (
        ("vio", "vieron"),
        ("siguió", "siguieron"),
        ("miró", "miraron"),
        ("encontró", "encontraron"),
        ("buscó", "buscaron"),
        ("llamó", "llamaron"),
    )
    _states = ("lleno", "cansado", "contento", "dormido", "tranquilo", "perdido", "hambriento")
    _be = ("estaba", "estaban")

    def subject(self, b: _Builder, noun: _Noun, number: int) -> None:
        b.add(self._articles[noun.gender, number], noun.form(number))

    def noun_phrase(self, rng: np.random.Generator, b: _Builder, length: int, noun: _Noun, number: int) -> None:
        # "el perro" / "el perro negro" / "el perro muy negro"
        b.add(self._articles[noun.gender, number])
        b.add_noun(noun.form(number))
        if length >= 3:
            if length == 4:
                b.add("muy")
            b.add(_es_inflect(_pick(rng, self._adjectives), noun.gender, number))

    def relative(self, rng: np.random.Generator, b: _Builder, frame: _Frame, subject: _Noun) -> None:
        # the relative pronoun is the clause's object: "el gato, que los perros vieron, ..."
        b.add(",", "que")
        clause_number = next(b.slot_numbers)
        self.noun_phrase(rng, b, frame.object_len, _pick(rng, self.subjects), clause_number)
        if frame.adverb:
            b.add(_pick(rng, self._adverbs))
        b.add(_pick(rng, self._verbs)[clause_number])
        self.prepositional_phrases(rng, b)
        b.add(",")

    def predicate(self, rng: np.random.Generator, b: _Builder, subject: _Noun, number: int) -> None:
        b.add(self._be[number], _es_inflect(_pick(rng, self._states), subject.gender, number))

    def extra_tokens(self) -> set[str]:
        words = set(self._articles.values()) | {"que", "muy", *self._adverbs, *self._be}
        for verb in self._verbs:
            words.update(verb)
        for base in self._adjectives + self._states:
            for gender in ("m", "f"):
                words.update(_es_inflect(base, gender, n) for n in (0, 1))
        return words


_GRAMMARS: dict[str, _Grammar] = {"en": _English(), "es": _Spanish()}


# --------------------------------------------------------------------------- argument checks


def _check_language(language: Any) -> _Grammar:
    return _GRAMMARS[_checks.choice("language", language, LANGUAGES)]


def _check_attractors(
    attractors: Any, attractor_prob: Any, distance: int, grammar: _Grammar
) -> tuple[int, float | None]:
    count = _checks.integer("attractors", attractors, 0)
    if attractor_prob is not None:
        prob = _checks.real("attractor_prob", attractor_prob, low=0.0, high=1.0, what="None or a probability")
        if count:
            raise ValueError(
                "attractors, attractor_prob: give an exact count or a probability, "
                f"not both (got attractors={count}, attractor_prob={prob})"
            )
        return 0, prob
    most = max_attractors(distance, language=grammar.language)
    if count > most:
        raise ValueError(
            f"attractors: at most {most} nouns fit in a filler of distance={distance} "
            f"(each needs a phrase of >= {_PP_MIN} words), got {count}"
        )
    return count, None


# --------------------------------------------------------------------------- generation


@functools.cache
def _options(language: str, distance: int, need: int) -> tuple[tuple[tuple[_Frame, int], ...], ...]:
    """Every (frame, number of prepositional phrases) that fills ``distance`` exactly
    with at least ``need`` noun slots, grouped by frame kind (plain, relative)."""
    grouped: dict[str, list[tuple[_Frame, int]]] = {"plain": [], "relative": []}
    for frame in _GRAMMARS[language].frames:
        rest = distance - frame.length
        if rest < 0:
            continue
        for m in range(-(-rest // _PP_MAX), rest // _PP_MIN + 1):  # _PP_MIN*m <= rest <= _PP_MAX*m
            if frame.slots + m >= need:
                grouped[frame.kind].append((frame, m))
    return tuple(tuple(v) for v in grouped.values() if v)


def max_attractors(distance: int, *, language: str = "en") -> int:
    """Most filler nouns (hence attractors) that fit between subject and verb.

    Each noun needs a phrase of at least three words ("near the trees"), so this is
    ``distance // 3`` in both languages.

    Parameters
    ----------
    distance : int
        Words strictly between the subject noun and the verb, >= 1.
    language : {"en", "es"}

    Returns
    -------
    int
    """
    grammar = _check_language(language)
    distance = _checks.integer("distance", distance, 1, MAX_DISTANCE)
    return max(frame.slots + m for group in _options(grammar.language, distance, 0) for frame, m in group)


def _generate(
    rng: np.random.Generator, grammar: _Grammar, number: int, distance: int, count: int, prob: float | None
) -> Sentence:
    groups = _options(grammar.language, distance, count)
    frame, m = _pick(rng, _pick(rng, groups))  # kind first, so both kinds are common
    pp_lengths = [_PP_MIN] * m
    for _ in range(distance - frame.length - _PP_MIN * m):  # spread the extra words
        grow = [i for i, n in enumerate(pp_lengths) if n < _PP_MAX]
        pp_lengths[_pick(rng, grow)] += 1

    slots = frame.slots + m
    if prob is None:
        flipped = np.zeros(slots, dtype=bool)
        flipped[rng.choice(slots, size=count, replace=False)] = True
    else:
        flipped = rng.random(slots) < prob
    b = _Builder(iter([1 - number if f else number for f in flipped]), pp_lengths)
    subject = _pick(rng, grammar.subjects)
    grammar.subject(b, subject, number)
    subject_position = len(b.tokens) - 1
    if frame.kind == "plain":
        if frame.loc:
            b.add(*_pick(rng, grammar.loc1 if frame.loc == 1 else grammar.loc2))
        grammar.prepositional_phrases(rng, b)
    else:
        grammar.relative(rng, b, frame, subject)
    verb_position = len(b.tokens)
    grammar.predicate(rng, b, subject, number)

    nouns = tuple(b.nouns)
    attractor_positions = tuple(p for p, f in zip(nouns, flipped) if f)
    return Sentence(
        tokens=tuple(b.tokens),
        number=number,
        subject_position=subject_position,
        verb_position=verb_position,
        distance=verb_position - subject_position - 1,
        attractors=len(attractor_positions),
        noun_positions=nouns,
        attractor_positions=attractor_positions,
        language=grammar.language,
    )


def _balanced(rng: np.random.Generator, n: int) -> list[int]:
    """n class labels, half of each (the odd one out drawn at random), shuffled."""
    labels = [SINGULAR] * (n // 2) + [PLURAL] * (n // 2)
    if n % 2:
        labels.append(int(rng.integers(2)))
    return [int(v) for v in rng.permutation(labels)]


def make_sentences(
    n: int,
    distance: int,
    *,
    attractors: int = 0,
    attractor_prob: float | None = None,
    seed: SeedLike = None,
    language: str = "en",
) -> list[Sentence]:
    """Generate ``n`` agreement sentences with exactly ``distance`` words between
    subject noun and verb.

    Parameters
    ----------
    n : int
        Number of sentences, >= 1. Half are singular and half plural (for odd
        ``n`` the extra one is drawn at random), in random order.
    distance : int
        Tokens strictly between the subject noun and the verb, 1 to
        :data:`MAX_DISTANCE`.
    attractors : int, default 0
        Exact number of filler nouns of the *other* number in every sentence, at
        most :func:`max_attractors` (distance // 3). The remaining filler nouns
        share the subject's number; their count varies from sentence to sentence.
    attractor_prob : float in [0, 1] or None
        Instead of an exact count: each filler noun is an attractor with this
        probability (``Sentence.attractors`` records how many there are).
    seed : None, int, numpy.random.Generator or SeedSequence
        The same seed gives the same sentences; a Generator is used (and advanced)
        as is.
    language : {"en", "es"}

    Returns
    -------
    list of Sentence

    Raises
    ------
    TypeError
        For a non-int ``n``/``distance``/``attractors`` or a bad ``seed``.
    ValueError
        For ``n < 1``, ``distance`` outside [1, MAX_DISTANCE], too many
        ``attractors``, ``attractor_prob`` outside [0, 1] or an unknown ``language``.
    """
    grammar = _check_language(language)
    n = _checks.integer("n", n, 1)
    distance = _checks.integer("distance", distance, 1, MAX_DISTANCE)
    count, prob = _check_attractors(attractors, attractor_prob, distance, grammar)
    rng = _checks.generator(seed)
    return [_generate(rng, grammar, number, distance, count, prob) for number in _balanced(rng, n)]


# --------------------------------------------------------------------------- encoding


class Vocabulary:
    """Token <-> id table. Id 0 is padding (``"<pad>"``), id 1 the neutral
    ``"<verb>"`` marker; the given tokens follow in order.

    Parameters
    ----------
    tokens : iterable of str
        Duplicates and the two special tokens are skipped.

    Examples
    --------
    >>> vocab = Vocabulary(["the", "cat", "was"])
    >>> vocab.encode(["the", "cat"]).tolist(), vocab.decode([2, 3, 0])
    ([2, 3], ['the', 'cat'])
    """

    PAD = "<pad>"
    VERB = "<verb>"
    pad_id = 0
    verb_id = 1

    def __init__(self, tokens: Iterable[str]) -> None:
        if isinstance(tokens, str):
            raise TypeError("tokens: expected an iterable of str, got a single str")
        self._tokens: list[str] = [self.PAD, self.VERB]
        self._ids: dict[str, int] = {self.PAD: 0, self.VERB: 1}
        for token in tokens:
            if not isinstance(token, str):
                raise TypeError(f"tokens: expected str items, got {type(token).__name__} {token!r}")
            if token not in self._ids:
                self._ids[token] = len(self._tokens)
                self._tokens.append(token)

    @classmethod
    def for_language(cls, language: str = "en") -> Vocabulary:
        """Every token :func:`make_sentences` can produce in ``language``, sorted."""
        return cls(sorted(_check_language(language).all_tokens()))

    @property
    def tokens(self) -> tuple[str, ...]:
        """All tokens, in id order."""
        return tuple(self._tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens)"

    def index(self, token: str) -> int:
        """Id of ``token``; ``ValueError`` if it is not in the vocabulary."""
        try:
            return self._ids[token]
        except KeyError:
            raise ValueError(f"token: {token!r} is not in the vocabulary") from None

    def token(self, index: int) -> str:
        """Token of id ``index``."""
        index = _checks.integer("index", index, 0, len(self) - 1)
        return self._tokens[index]

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Ids of ``tokens`` as an int64 array."""
        return np.array([self.index(t) for t in tokens], dtype=np.int64)

    def decode(self, ids: Any, *, strip_padding: bool = True) -> list[str]:
        """Tokens of ``ids`` (1-D); padding ids are dropped unless ``strip_padding=False``."""
        ids = np.asarray(ids)
        if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
            raise ValueError(f"ids: expected a 1-D integer array, got shape {ids.shape} dtype {ids.dtype}")
        return [self.token(int(i)) for i in ids if not (strip_padding and i == self.pad_id)]


class Encoded(NamedTuple):
    """Time-major arrays for a batch of sentences (B sentences, T = max length)."""

    ids: np.ndarray  # (T, B) int64: inputs, right-padded with 0; <verb> at the verb position
    lengths: np.ndarray  # (B,) int64: verb_position + 1
    verb_positions: np.ndarray  # (B,) int64
    targets: np.ndarray  # (T, B) float32: the subject's number where mask is 1, else 0
    mask: np.ndarray  # (T, B) float32: 1 where the loss counts


def _check_sentences(sentences: Any) -> list[Sentence]:
    if isinstance(sentences, Sentence):
        raise TypeError("sentences: expected a sequence of Sentence, got a single Sentence")
    try:
        items = list(sentences)
    except TypeError:
        raise TypeError(f"sentences: expected a sequence of Sentence, got {type(sentences).__name__}") from None
    if not items:
        raise ValueError("sentences: expected at least one sentence, got none")
    checked: list[Sentence] = []
    for i, s in enumerate(items):
        if not isinstance(s, Sentence):
            raise TypeError(f"sentences[{i}]: expected a Sentence, got {type(s).__name__}")
        checked.append(s)
    return checked


def encode(sentences: Sequence[Sentence], vocab: Vocabulary, *, per_step: bool = False) -> Encoded:
    """Encode sentences as padded, time-major ids with per-step targets and mask.

    The input of sentence b is ``tokens[:verb_position] + ["<verb>"]``: the words
    before the verb, then a marker that is the same for both numbers (see the
    module docstring for why), so ``lengths[b] = verb_position[b] + 1``.

    Parameters
    ----------
    sentences : sequence of Sentence
        B >= 1 sentences.
    vocab : Vocabulary
        Must contain every token before each verb.
    per_step : bool, default False
        False: ``mask`` is 1 only at the verb position (one prediction per
        sentence). True: ``mask`` is 1 at every step after the subject up to and
        including the verb, with the subject's number as target throughout – a
        denser training signal.

    Returns
    -------
    Encoded
        ``ids`` (T, B) int64, ``lengths`` (B,), ``verb_positions`` (B,),
        ``targets`` (T, B) float32 and ``mask`` (T, B) float32; ready for
        ``losses.sigmoid_bce_with_logits(logits[..., 0], targets, mask)``.
    """
    sentences = _check_sentences(sentences)
    if not isinstance(vocab, Vocabulary):
        raise TypeError(f"vocab: expected a Vocabulary, got {type(vocab).__name__}")
    per_step = _checks.flag("per_step", per_step)
    B = len(sentences)
    verb_positions = np.array([s.verb_position for s in sentences], dtype=np.int64)
    lengths = verb_positions + 1
    T = int(lengths.max())
    ids = np.zeros((T, B), dtype=np.int64)
    targets = np.zeros((T, B), dtype=np.float32)
    mask = np.zeros((T, B), dtype=np.float32)
    for b, s in enumerate(sentences):
        v = s.verb_position
        try:
            ids[:v, b] = vocab.encode(s.tokens[:v])
        except ValueError as err:
            raise ValueError(f"sentences[{b}]: {err}") from None
        ids[v, b] = vocab.verb_id
        start = s.subject_position + 1 if per_step else v
        targets[start : v + 1, b] = s.number
        mask[start : v + 1, b] = 1.0
    return Encoded(ids, lengths, verb_positions, targets, mask)


def one_hot(ids: Any, vocab_size: int, dtype: Any = np.float32) -> np.ndarray:
    """One-hot vectors for integer ids; padding (id 0) becomes an all-zero row.

    Parameters
    ----------
    ids : array_like of int, (T, B) (any shape is accepted)
        Values in [0, vocab_size).
    vocab_size : int
        V, e.g. ``len(vocab)``.
    dtype : float32 or float64

    Returns
    -------
    numpy.ndarray, (T, B, V)
        ``x[t, b, ids[t, b]] = 1`` except where ``ids[t, b] == 0``. Needs
        T·B·V·itemsize bytes.
    """
    V = _checks.integer("vocab_size", vocab_size, 1)
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype: expected float32 or float64, got {dtype}")
    ids = np.asarray(ids)
    if ids.size and ids.dtype.kind not in "iu":
        raise TypeError(f"ids: expected an integer array, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise ValueError(f"ids: values must be in [0, vocab_size) = [0, {V}), got min {ids.min()} max {ids.max()}")
    out = np.zeros((*ids.shape, V), dtype=dtype)
    flat = out.reshape(-1, V)
    flat[np.arange(flat.shape[0]), ids.reshape(-1).astype(np.intp)] = 1
    flat[:, 0] = 0  # padding
    return out


# --------------------------------------------------------------------------- datasets


class AgreementData(NamedTuple):
    """Everything needed to train or evaluate on agreement (see :func:`dataset`)."""

    x: np.ndarray  # (T, B, V) one-hot inputs (float32), zero rows at padding
    ids: np.ndarray  # (T, B) int64
    lengths: np.ndarray  # (B,) int64
    verb_positions: np.ndarray  # (B,) int64
    targets: np.ndarray  # (T, B) float32
    mask: np.ndarray  # (T, B) float32
    numbers: np.ndarray  # (B,) int64: the subject's number, 0 singular / 1 plural
    distances: np.ndarray  # (B,) int64
    attractors: np.ndarray  # (B,) int64
    sentences: list[Sentence]  # in batch order
    vocab: Vocabulary


def dataset(
    n: int,
    distances: Any,
    *,
    attractors: int = 0,
    attractor_prob: float | None = None,
    seed: SeedLike = None,
    per_step: bool = False,
    language: str = "en",
) -> AgreementData:
    """A balanced, shuffled agreement data set as NumPy arrays.

    Parameters
    ----------
    n : int
        Total number of sentences B >= 1, spread as evenly as possible over
        ``distances`` (the first ``n % len(distances)`` get one more).
    distances : int or iterable of int
        The distance(s) to include, each in [1, MAX_DISTANCE].
    attractors, attractor_prob, language
        As in :func:`make_sentences`; ``attractors`` must fit the smallest distance.
    seed : None, int, numpy.random.Generator or SeedSequence
        The same seed gives identical arrays.
    per_step : bool
        As in :func:`encode`.

    Returns
    -------
    AgreementData
        Singular and plural differ in count by at most one overall and within each
        distance. The vocabulary is ``Vocabulary.for_language(language)``, so data
        sets of one language share ids.
    """
    grammar = _check_language(language)
    n = _checks.integer("n", n, 1)
    if not isinstance(distances, (bool, np.bool_)) and isinstance(distances, _numbers.Integral):
        distances = [int(distances)]
    if isinstance(distances, (str, bytes)) or not isinstance(distances, Iterable):
        raise TypeError(f"distances: expected an int or an iterable of ints, got {type(distances).__name__}")
    dist_list = [_checks.integer("distances", d, 1, MAX_DISTANCE) for d in distances]
    if not dist_list:
        raise ValueError("distances: expected at least one distance, got none")
    checked = [_check_attractors(attractors, attractor_prob, d, grammar) for d in dist_list]
    per_step = _checks.flag("per_step", per_step)
    rng = _checks.generator(seed)

    k = len(dist_list)
    sentences: list[Sentence] = []
    odd_label = int(rng.integers(2))  # alternates between groups of odd size
    for j, (d, (count, prob)) in enumerate(zip(dist_list, checked)):
        size = n // k + (j < n % k)
        labels = [SINGULAR] * (size // 2) + [PLURAL] * (size // 2)
        if size % 2:
            labels.append(odd_label)
            odd_label = 1 - odd_label
        sentences.extend(_generate(rng, grammar, lab, d, count, prob) for lab in labels)
    sentences = [sentences[i] for i in rng.permutation(len(sentences))]

    vocab = Vocabulary.for_language(grammar.language)
    enc = encode(sentences, vocab, per_step=per_step)
    return AgreementData(
        x=one_hot(enc.ids, len(vocab)),
        ids=enc.ids,
        lengths=enc.lengths,
        verb_positions=enc.verb_positions,
        targets=enc.targets,
        mask=enc.mask,
        numbers=np.array([s.number for s in sentences], dtype=np.int64),
        distances=np.array([s.distance for s in sentences], dtype=np.int64),
        attractors=np.array([s.attractors for s in sentences], dtype=np.int64),
        sentences=sentences,
        vocab=vocab,
    )


# --------------------------------------------------------------------------- baselines


def noun_numbers(language: str = "en") -> dict[str, int]:
    """Every noun form of ``language`` mapped to its number (0 singular, 1 plural).

    Useful to analyse sentences, e.g. to find the nouns before the verb.
    """
    return _check_language(language).noun_numbers()


def chance_accuracy(labels: Any) -> float:
    """Accuracy of always answering the more frequent class.

    With balanced classes (as :func:`dataset` makes them) this is 0.5: a model must
    beat 0.5 to show it has learned anything about agreement.

    Parameters
    ----------
    labels : sequence of Sentence, or array_like of 0/1
        The subjects' numbers (or sentences to read them from).

    Returns
    -------
    float
    """
    if (
        not isinstance(labels, np.ndarray)
        and isinstance(labels, (list, tuple))
        and labels
        and isinstance(labels[0], Sentence)
    ):
        labels = [s.number for s in _check_sentences(labels)]
    y = np.asarray(labels)
    if y.size == 0:
        raise ValueError("labels: expected at least one label, got none")
    if y.dtype.kind not in "biu" or not np.isin(y, (0, 1)).all():
        raise ValueError("labels: expected 0 (singular) / 1 (plural) values")
    p = float(np.mean(y))
    return max(p, 1.0 - p)


def last_noun_baseline(sentences: Sequence[Sentence]) -> float:
    """Accuracy of the shortcut "the verb agrees with the last noun before it".

    The heuristic reads only the tokens: it scans back from the verb to the first
    word it knows as a noun (the subject itself when the filler has none) and
    predicts that noun's number. It is always right without attractors and falls
    below 1 when an attractor is the last noun – what a model with short memory
    would do. With many attractors it can even fall below chance (0.5).

    Parameters
    ----------
    sentences : sequence of Sentence

    Returns
    -------
    float
        Fraction of sentences where the heuristic predicts the subject's number.
    """
    sentences = _check_sentences(sentences)
    tables = {lang: g.noun_numbers() for lang, g in _GRAMMARS.items()}
    correct = 0
    for s in sentences:
        table = tables[s.language]
        guess = next(table[t] for t in reversed(s.tokens[: s.verb_position]) if t in table)
        correct += guess == s.number
    return correct / len(sentences)
