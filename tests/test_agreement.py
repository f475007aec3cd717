"""Tests of lstmfast.agreement: sentence structure, attractors, balance, encoding, seeds, errors."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from lstmfast.datasets import agreement as agr
from lstmfast.training import losses

DISTANCES = range(1, 41)
VERBS = {"en": ("was", "were"), "es": ("estaba", "estaban")}


def filler_nouns(s: agr.Sentence) -> list[int]:
    """Positions of the nouns strictly between subject and verb, read from the tokens."""
    table = agr.noun_numbers(s.language)
    return [i for i in range(s.subject_position + 1, s.verb_position) if s.tokens[i] in table]


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize("language", agr.LANGUAGES)
def test_distance_is_exact_for_every_distance(language):
    table = agr.noun_numbers(language)
    for d in DISTANCES:
        for k in sorted({0, agr.max_attractors(d, language=language)}):
            for s in agr.make_sentences(12, d, attractors=k, seed=d, language=language):
                assert s.distance == d
                assert s.verb_position - s.subject_position - 1 == d
                assert s.subject_position == 1
                assert s.subject in table and table[s.subject] == s.number
                assert s.tokens[s.verb_position] in VERBS[language]
                assert len(s.tokens) == s.verb_position + 2  # one predicate word after the verb


@pytest.mark.parametrize("language", agr.LANGUAGES)
def test_verb_agrees_with_subject(language):
    for d in (1, 2, 3, 7, 15, 40):
        for s in agr.make_sentences(40, d, attractor_prob=0.5, seed=100 + d, language=language):
            assert s.verb == VERBS[language][s.number]


def test_spanish_article_and_predicate_agree_in_gender_and_number():
    for s in agr.make_sentences(200, 9, attractor_prob=0.5, seed=3, language="es"):
        article, adjective = s.tokens[0], s.tokens[s.verb_position + 1]
        feminine = article in ("la", "las")
        assert article in (("el", "la"), ("los", "las"))[s.number]
        assert adjective.endswith("s") == bool(s.number)
        if adjective.rstrip("s")[-1] in "oa":  # gendered adjective (lleno/llena ...)
            assert adjective.rstrip("s").endswith("a") == feminine


def test_template_examples():
    s = agr.make_sentences(1, 1, seed=0)[0]
    assert s.tokens[0] == "the" and len(s.tokens) == 5
    clauses = [s for s in agr.make_sentences(200, 8, seed=1) if s.tokens[2] == ","]
    assert clauses, "some fillers should be relative clauses"
    for s in clauses:
        assert s.tokens[3] in ("which", "who") and s.tokens[s.verb_position - 1] == ","


def test_max_attractors_is_distance_div_3():
    for language in agr.LANGUAGES:
        assert [agr.max_attractors(d, language=language) for d in DISTANCES] == [d // 3 for d in DISTANCES]


# --------------------------------------------------------------------------- attractors


@pytest.mark.parametrize("language", agr.LANGUAGES)
def test_attractor_count_is_exact_and_of_opposite_number(language):
    table = agr.noun_numbers(language)
    for d in (3, 4, 6, 10, 19, 40):
        for k in range(agr.max_attractors(d) + 1):
            for s in agr.make_sentences(8, d, attractors=k, seed=1000 * d + k, language=language):
                assert s.attractors == k == len(s.attractor_positions)
                assert list(s.noun_positions) == filler_nouns(s)
                assert set(s.attractor_positions) <= set(s.noun_positions)
                for i in s.noun_positions:
                    expected = 1 - s.number if i in s.attractor_positions else s.number
                    assert table[s.tokens[i]] == expected


def test_attractor_probability():
    none = agr.make_sentences(50, 20, attractor_prob=0.0, seed=0)
    assert all(s.attractors == 0 for s in none)
    every = agr.make_sentences(50, 20, attractor_prob=1.0, seed=0)
    assert all(s.attractors == len(s.noun_positions) > 0 for s in every)
    half = agr.make_sentences(400, 20, attractor_prob=0.5, seed=0)
    ratio = sum(s.attractors for s in half) / sum(len(s.noun_positions) for s in half)
    assert 0.4 < ratio < 0.6


def test_short_distances_have_no_room_for_nouns():
    for d in (1, 2):
        assert agr.max_attractors(d) == 0
        assert all(not s.noun_positions for s in agr.make_sentences(20, d, seed=d))
    with pytest.raises(ValueError, match=r"attractors: at most 0 .*distance=2"):
        agr.make_sentences(4, 2, attractors=1)


# --------------------------------------------------------------------------- balance


@pytest.mark.parametrize("n", [1, 2, 7, 100, 101])
def test_make_sentences_is_balanced(n):
    numbers = [s.number for s in agr.make_sentences(n, 5, seed=n)]
    assert len(numbers) == n
    assert abs(numbers.count(0) - numbers.count(1)) == n % 2


def test_dataset_is_balanced_overall_and_per_distance():
    data = agr.dataset(301, [1, 4, 9, 16, 25], seed=5)
    assert abs(int((data.numbers == 0).sum()) - int((data.numbers == 1).sum())) <= 1
    for d in (1, 4, 9, 16, 25):
        group = data.numbers[data.distances == d]
        assert len(group) in (60, 61)
        assert abs(int((group == 0).sum()) - int((group == 1).sum())) <= 1
    assert agr.chance_accuracy(data.numbers) == pytest.approx(0.5, abs=1 / 301)


def test_dataset_is_shuffled():
    data = agr.dataset(200, [3, 30], seed=0)
    assert 0 < np.count_nonzero(np.diff(data.distances)) < 199


# --------------------------------------------------------------------------- encoding


def test_vocabulary_basics():
    vocab = agr.Vocabulary(["the", "cat", "the", "<pad>", "was"])
    assert vocab.tokens == ("<pad>", "<verb>", "the", "cat", "was")
    assert len(vocab) == 5 and vocab.pad_id == 0 and vocab.verb_id == 1
    assert "cat" in vocab and "dog" not in vocab
    assert vocab.encode(["cat", "was"]).tolist() == [3, 4]
    assert vocab.decode(np.array([2, 3, 0, 0])) == ["the", "cat"]
    assert vocab.decode([2, 0], strip_padding=False) == ["the", "<pad>"]
    with pytest.raises(ValueError, match="'dog' is not in the vocabulary"):
        vocab.index("dog")
    with pytest.raises(ValueError, match="index"):
        vocab.token(5)
    with pytest.raises(TypeError, match="tokens"):
        agr.Vocabulary("abc")


@pytest.mark.parametrize("language", agr.LANGUAGES)
def test_language_vocabulary_covers_every_token(language):
    vocab = agr.Vocabulary.for_language(language)
    assert len(vocab) <= 150
    assert vocab.tokens[:2] == ("<pad>", "<verb>")
    for d in (1, 2, 4, 5, 8, 13, 40):
        for s in agr.make_sentences(60, d, attractor_prob=0.5, seed=d, language=language):
            assert vocab.decode(vocab.encode(s.tokens)) == list(s.tokens)


def test_noun_forms_are_unambiguous():
    for language in agr.LANGUAGES:
        table = agr.noun_numbers(language)
        assert set(table.values()) == {0, 1}
        assert len(table) % 2 == 0  # every noun has two distinct forms


@pytest.mark.parametrize("per_step", [False, True])
def test_encode_round_trip_padding_lengths_and_mask(per_step):
    sentences = agr.make_sentences(30, 3, seed=0) + agr.make_sentences(30, 17, attractors=2, seed=1)
    vocab = agr.Vocabulary.for_language("en")
    enc = agr.encode(sentences, vocab, per_step=per_step)
    T, B = enc.ids.shape
    assert B == 60 and T == 17 + 3  # "the", subject, 17 filler words, <verb>
    assert enc.ids.dtype == np.int64 and enc.targets.dtype == enc.mask.dtype == np.float32
    assert enc.targets.shape == enc.mask.shape == (T, B)
    for b, s in enumerate(sentences):
        n, v = int(enc.lengths[b]), s.verb_position
        assert enc.verb_positions[b] == v and n == v + 1
        assert vocab.decode(enc.ids[:n, b]) == [*list(s.tokens[:v]), "<verb>"]
        assert np.all(enc.ids[:n, b] != 0) and np.all(enc.ids[n:, b] == 0)
        expected = np.zeros(T, dtype=np.float32)
        expected[s.subject_position + 1 if per_step else v : v + 1] = 1
        np.testing.assert_array_equal(enc.mask[:, b], expected)
        np.testing.assert_array_equal(enc.targets[:, b], expected * s.number)


def test_one_hot():
    ids = np.array([[2, 3], [1, 0], [0, 0]])
    x = agr.one_hot(ids, 5)
    assert x.shape == (3, 2, 5) and x.dtype == np.float32
    np.testing.assert_array_equal(x.sum(axis=-1), (ids != 0).astype(np.float32))
    np.testing.assert_array_equal(np.argmax(x, axis=-1)[ids != 0], ids[ids != 0])
    assert agr.one_hot(ids, 5, dtype=np.float64).dtype == np.float64
    assert agr.one_hot(np.zeros((0, 3), dtype=np.int64), 4).shape == (0, 3, 4)


def test_verb_number_is_not_in_the_inputs():
    vocab = agr.Vocabulary.for_language("en")
    sentences = agr.make_sentences(100, 12, attractor_prob=0.5, seed=2)
    enc = agr.encode(sentences, vocab)
    after_verb = {s.tokens[i] for s in sentences for i in range(s.verb_position, len(s.tokens))}
    assert not np.isin(enc.ids, vocab.encode(sorted(after_verb))).any()
    assert np.all(enc.ids[enc.verb_positions, np.arange(100)] == vocab.verb_id)
    # the verb's form does not reach the inputs: swap it for the wrong one, same ids
    swapped = [
        dataclasses.replace(
            s, tokens=(*s.tokens[: s.verb_position], VERBS["en"][1 - s.number], *s.tokens[s.verb_position + 1 :])
        )
        for s in sentences
    ]
    np.testing.assert_array_equal(agr.encode(swapped, vocab).ids, enc.ids)


def test_spanish_inputs_stop_before_the_agreeing_verb_and_adjective():
    vocab = agr.Vocabulary.for_language("es")
    sentences = agr.make_sentences(100, 10, attractor_prob=0.5, seed=4, language="es")
    enc = agr.encode(sentences, vocab)
    forbidden = {"estaba", "estaban"} | {s.tokens[-1] for s in sentences}
    assert not np.isin(enc.ids, vocab.encode(sorted(forbidden))).any()


def test_dataset_arrays_are_consistent():
    data = agr.dataset(40, [2, 11], attractors=0, seed=9, per_step=True)
    T, B, V = data.x.shape
    assert B == 40 and len(data.vocab) == V and data.x.dtype == np.float32
    np.testing.assert_array_equal(data.x, agr.one_hot(data.ids, V))
    cols = np.arange(B)
    np.testing.assert_array_equal(data.targets[data.verb_positions, cols], data.numbers)
    assert data.mask.sum() == sum(s.verb_position - s.subject_position for s in data.sentences)
    assert [s.number for s in data.sentences] == data.numbers.tolist()
    assert sorted(set(data.distances.tolist())) == [2, 11]
    np.testing.assert_array_equal(data.attractors, 0)


def test_targets_and_mask_feed_the_loss():
    data = agr.dataset(16, 5, seed=0)
    logits = np.zeros(data.targets.shape, dtype=np.float32)
    loss, dlogits = losses.sigmoid_bce_with_logits(logits, data.targets, data.mask)
    assert loss == pytest.approx(16 * math.log(2), rel=1e-6)
    assert np.count_nonzero(dlogits) == 16


# --------------------------------------------------------------------------- baselines


def test_chance_accuracy():
    assert agr.chance_accuracy([0, 1, 1, 0]) == 0.5
    assert agr.chance_accuracy(np.array([1, 1, 1, 0])) == 0.75
    assert agr.chance_accuracy(agr.make_sentences(10, 4, seed=0)) == 0.5
    with pytest.raises(ValueError, match="labels"):
        agr.chance_accuracy([0, 2])


@pytest.mark.parametrize("language", agr.LANGUAGES)
def test_last_noun_baseline(language):
    easy = agr.make_sentences(100, 15, attractors=0, seed=0, language=language)
    assert agr.last_noun_baseline(easy) == 1.0
    hard = agr.make_sentences(100, 15, attractors=2, seed=0, language=language)
    assert 0.0 < agr.last_noun_baseline(hard) < 1.0
    # every filler noun an attractor (d = 12 always leaves room for one): always wrong
    worst = agr.make_sentences(100, 12, attractor_prob=1.0, seed=0, language=language)
    assert agr.last_noun_baseline(worst) == 0.0


# --------------------------------------------------------------------------- seeds


@pytest.mark.parametrize("language", agr.LANGUAGES)
def test_same_seed_same_sentences(language):
    a = agr.make_sentences(50, 13, attractors=1, seed=42, language=language)
    assert a == agr.make_sentences(50, 13, attractors=1, seed=42, language=language)
    assert a != agr.make_sentences(50, 13, attractors=1, seed=43, language=language)
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    assert agr.make_sentences(5, 3, seed=g1) == agr.make_sentences(5, 3, seed=g2)
    assert len(agr.make_sentences(3, 3)) == 3  # seed=None: fresh randomness


def test_same_seed_same_dataset():
    a = agr.dataset(60, [1, 9, 20], attractors=0, seed=11)
    b = agr.dataset(60, [1, 9, 20], attractors=0, seed=11)
    for name in ("x", "ids", "lengths", "verb_positions", "targets", "mask", "numbers", "distances", "attractors"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.sentences == b.sentences


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"n": 0}, ValueError, r"n: expected a positive int, got 0"),
        ({"n": 2.0}, TypeError, r"n: expected a positive int, got float"),
        ({"distance": 0}, ValueError, r"distance: expected 1 <= distance <= 1000, got 0"),
        ({"distance": -3}, ValueError, r"distance: expected 1 <= distance"),
        ({"distance": agr.MAX_DISTANCE + 1}, ValueError, r"distance: expected 1 <= distance <= 1000, got 1001"),
        ({"distance": 4.5}, TypeError, r"distance: expected an int"),
        ({"distance": True}, TypeError, r"distance: expected an int"),
        ({"language": "fr"}, ValueError, r"language: expected one of \('en', 'es'\), got 'fr'"),
        ({"language": None}, TypeError, r"language: expected a str"),
        ({"attractors": -1}, ValueError, r"attractors: expected an int >= 0, got -1"),
        ({"attractors": 4}, ValueError, r"attractors: at most 3"),
        ({"attractors": 0.5}, TypeError, r"attractors: expected an int"),
        ({"attractor_prob": 1.5}, ValueError, r"attractor_prob: expected None or a probability in \[0, 1\]"),
        ({"attractor_prob": "0.5"}, TypeError, r"attractor_prob"),
        ({"attractors": 1, "attractor_prob": 0.5}, ValueError, r"not both"),
        ({"seed": -1}, ValueError, r"seed: expected None, an int >= 0, .*got -1"),
        ({"seed": "abc"}, TypeError, r"seed: expected"),
    ],
)
def test_make_sentences_bad_arguments(kwargs, error, pattern):
    args = {"n": 4, "distance": 10, **kwargs}
    with pytest.raises(error, match=pattern):
        agr.make_sentences(args.pop("n"), args.pop("distance"), **args)


@pytest.mark.parametrize(
    "distances, kwargs, error, pattern",
    [
        ([], {}, ValueError, r"distances: expected at least one"),
        ([3, 0], {}, ValueError, r"distances: expected 1 <= distances"),
        ("12", {}, TypeError, r"distances: expected an int or an iterable"),
        ([3, 12], {"attractors": 2}, ValueError, r"attractors: at most 1 .*distance=3"),
        (5, {"per_step": "yes"}, TypeError, r"per_step: expected a bool"),
        (5, {"language": "de"}, ValueError, r"language"),
    ],
)
def test_dataset_bad_arguments(distances, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        agr.dataset(10, distances, **kwargs)


def test_dataset_bad_n():
    with pytest.raises(ValueError, match="n: expected a positive int"):
        agr.dataset(0, 5)


def test_encoding_bad_arguments():
    vocab = agr.Vocabulary.for_language("en")
    sentences = agr.make_sentences(2, 4, seed=0)
    with pytest.raises(ValueError, match="sentences: expected at least one"):
        agr.encode([], vocab)
    with pytest.raises(TypeError, match=r"sentences\[1\]: expected a Sentence"):
        agr.encode([sentences[0], "the cat"], vocab)
    with pytest.raises(TypeError, match="vocab: expected a Vocabulary"):
        agr.encode(sentences, {"the": 2})
    spanish_article = r"sentences\[0\]: token: '(el|la|los|las)' is not in the vocabulary"
    with pytest.raises(ValueError, match=spanish_article):
        agr.encode(agr.make_sentences(1, 4, seed=0, language="es"), vocab)
    with pytest.raises(ValueError, match=r"ids: values must be in \[0, vocab_size\)"):
        agr.one_hot([[0, 5]], 5)
    with pytest.raises(ValueError, match="ids: values"):
        agr.one_hot([[-1]], 5)
    with pytest.raises(TypeError, match="ids: expected an integer array"):
        agr.one_hot([[0.0, 1.0]], 5)
    with pytest.raises(ValueError, match="vocab_size: expected a positive int"):
        agr.one_hot([[0]], 0)
    with pytest.raises(TypeError, match="dtype: expected float32 or float64"):
        agr.one_hot([[0]], 3, dtype=np.int32)
    with pytest.raises(ValueError, match="sentences"):
        agr.last_noun_baseline([])
