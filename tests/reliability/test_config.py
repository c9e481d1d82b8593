"""Issue 17, items 12-14: strict config validation, bm25's options, ``generate(logprobs=False)``."""

from __future__ import annotations

from pathlib import Path

import pytest

import pilotfish
from pilotfish.core.config import load_config, parse_config
from pilotfish.core.errors import ConfigError


@pytest.mark.parametrize(("toml", "key"), [
    ("[pilotfish.generation]\nmax_tokens = 3.0\n", "generation.max_tokens"),
    ("[pilotfish.generation]\ntemperature = \"0.5\"\n", "generation.temperature"),
    ("[pilotfish]\ndedupe = \"yes\"\n", "dedupe"),
    ("[pilotfish]\ntop_k = \"5\"\n", "top_k"),
])
def test_coercible_values_are_errors_naming_the_key(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "pilotfish.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=rf"option '{key}' expects"):
        load_config(path)


def test_an_integer_is_still_a_number() -> None:
    cfg = parse_config({"generation": {"temperature": 1, "top_p": 1}})
    assert cfg.generation.temperature == 1.0


@pytest.mark.parametrize(("plugin", "options", "key"), [
    ("entailment", {"threshold": "0.5"}, "threshold"),
    ("entailment", {"head": "yes"}, "head"),
    ("length", {"max_words": 10.0}, "max_words"),
    ("bm25", {"k1": "1.2"}, "k1"),
])
def test_plugin_options_are_strict(plugin: str, options: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"plugin '{plugin}': option '{key}' expects"):
        pilotfish.Pilot(model="fake", plugins=[plugin], options={plugin: options})


def _tiny_corpus(root: Path) -> Path:
    for name, text in {"a/one.txt": "One\n\nThe cat sat on the mat. The cat was black.",
                       "a/two.txt": "Two\n\nDogs run in the park. Running dogs chase running cats in the park.",
                       "b/three.txt": "Three\n\nA long article about weather. " + "Rain fell all day. " * 20}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_bm25_options_are_real(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    from pilotfish.retrievers.index import open_index

    corpus = _tiny_corpus(tmp_path / "c")
    config = tmp_path / "pilotfish.toml"
    config.write_text('[pilotfish.plugin.bm25]\nk1 = 0.9\nb = 0.3\nmethod = "robertson"\nstemmer = ""\n')
    code, out, err = run_cli("index", corpus, "--out", tmp_path / "idx", "-r", "bm25", "-q", "--config", config)
    assert code == 0, err
    settings = open_index(tmp_path / "idx").settings("bm25")
    assert (settings["k1"], settings["b"], settings["method"], settings["stemmer"]) == (0.9, 0.3, "robertson", None)
    pilot = pilotfish.Pilot(model="fake", plugins=["bm25"], config=config)
    pilot.config = pilot.config.model_copy(update={"index": str(tmp_path / "idx")})
    assert pilot.retrieve("cat mat", 1)[0].doc_id == "a/one"
    assert pilot.retrieve("running", 3)[0].doc_id == "a/two"  # no stemmer: "running" is its own term
    # the default index (stemmed, lucene) scores differently from the one asked for above
    run_cli("index", corpus, "--out", tmp_path / "default", "-r", "bm25", "-q")
    default = open_index(tmp_path / "default").settings("bm25")
    assert (default["k1"], default["b"], default["method"], default["stemmer"]) == (1.5, 0.75, "lucene", "english")
    # querying an index with other settings than it was built with is refused, naming the rebuild
    other = pilotfish.Pilot(model="fake", plugins=["bm25"], options={"bm25": {"k1": 2.0, "index": str(tmp_path / "idx")}})
    with pytest.raises(pilotfish.PilotfishError, match="built with k1=0.9.*k1=2.0.*pilotfish index"):
        other.retrieve("cat", 1)
    unstemmed = pilotfish.Pilot(model="fake", plugins=["bm25"], options={"bm25": {"stemmer": "", "index": str(tmp_path / "default")}})
    with pytest.raises(pilotfish.PilotfishError, match="built with stemmer='english'"):
        unstemmed.retrieve("cat", 1)
    with pytest.raises(ConfigError, match="option 'method'"):
        pilotfish.Pilot(model="fake", plugins=["bm25"], options={"bm25": {"method": "okapi"}})


def test_generate_honours_logprobs_false() -> None:
    model = pilotfish.FakeModel(["Hello there."])
    assert model.generate("hi").logprobs
    gen = model.generate("hi", logprobs=False)
    assert gen.text == "Hello there." and gen.logprobs is None
