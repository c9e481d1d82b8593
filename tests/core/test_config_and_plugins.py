"""Configuration files, plugin discovery, options and manager behaviour."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import pilotfish
from pilotfish import ConfigError, Pilot, PluginError, PluginNotFoundError, hookimpl, load_config
from pilotfish.core.manager import build_manager, installed_plugins


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_config_file_is_read_and_validated(tmp_path):
    p = write(tmp_path, "pilotfish.toml", """
        [pilotfish]
        model = "fake"
        top_k = 3
        max_repair_rounds = 1
        [pilotfish.generation]
        max_tokens = 5
    """)
    cfg = load_config(p)
    assert cfg.model == "fake" and cfg.top_k == 3 and cfg.generation.max_tokens == 5
    answer = Pilot.from_config(p).run("one two three four five six seven")
    assert answer.text == "echo: one two three four" and answer.generation.finish_reason == "length"


def test_pyproject_tool_table(tmp_path, monkeypatch):
    write(tmp_path, "pyproject.toml", """
        [project]
        name = "app"
        [tool.pilotfish]
        model = "fake"
    """)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PILOTFISH_CONFIG", raising=False)
    assert load_config().model == "fake"


def test_malformed_toml(tmp_path):
    p = write(tmp_path, "pilotfish.toml", "[pilotfish\nmodel = 1\n")
    with pytest.raises(ConfigError, match="malformed TOML"):
        load_config(p)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_unknown_top_level_key_and_wrong_type(tmp_path):
    p = write(tmp_path, "pilotfish.toml", '[pilotfish]\nmodle = "fake"\n')
    with pytest.raises(ConfigError, match="unknown option 'modle'.*known options: .*model"):
        load_config(p)
    p = write(tmp_path, "pilotfish.toml", '[pilotfish]\ntop_k = "many"\n')
    with pytest.raises(ConfigError, match="option 'top_k' expects an integer, got 'many'"):
        load_config(p)


def test_unknown_plugin_lists_the_installed_ones():
    with pytest.raises(PluginNotFoundError) as info:
        Pilot(model="fake", plugins=["no-such-plugin"])
    msg = str(info.value)
    assert "plugin 'no-such-plugin' is not installed" in msg
    assert "core" in msg and "models" in msg


def test_example_package_is_discovered_and_used_by_name_in_config(tmp_path):
    """The example third-party package (examples/pilotfish-shout) is pip-installed by the install script."""
    plugins = installed_plugins(refresh=True)
    assert "shout" in plugins, "run `pip install -e examples/pilotfish-shout` (scripts/install.sh does)"
    assert plugins["shout"].dist == "pilotfish-shout"
    p = write(tmp_path, "pilotfish.toml", """
        [pilotfish]
        model = "fake"
        plugins = ["shout"]
        [pilotfish.plugin.shout]
        suffix = "?!"
    """)
    assert Pilot.from_config(p).run("hello").text == "echo: HELLO?!"


def test_plugin_option_errors_name_the_option_and_plugin(tmp_path):
    p = write(tmp_path, "pilotfish.toml", """
        [pilotfish]
        model = "fake"
        plugins = ["shout"]
        [pilotfish.plugin.shout]
        sufix = "!"
    """)
    with pytest.raises(ConfigError, match=r"plugin 'shout': unknown option 'sufix' \(known options: suffix\)"):
        Pilot.from_config(p)
    with pytest.raises(ConfigError, match="plugin 'shout': option 'suffix' expects a string, got 3"):
        Pilot(model="fake", plugins=["shout"], options={"shout": {"suffix": 3}})
    with pytest.raises(ConfigError, match="option 'on_error' expects 'raise' or 'skip'"):
        Pilot(model="fake", plugins=["shout"], options={"shout": {"on_error": "ignore"}})
    with pytest.raises(ConfigError, match="plugin 'core': takes no options"):
        Pilot(model="fake", options={"core": {"x": 1}})


def test_mismatched_hook_signature_names_the_plugin():
    class Bad:
        name = "bad-args"

        @hookimpl
        def retrieve(self, request, kk):
            return []

    with pytest.raises(PluginError, match="plugin 'bad-args': does not match the hook specification.*kk"):
        build_manager([Bad()], use_entrypoints=False)


def test_unknown_hook_is_reported_by_check_pending():
    class Typo:
        name = "typo"

        @hookimpl
        def retreive(self, request):
            return []

    with pytest.raises(PluginError, match="plugin 'typo': implements a hook that does not exist.*retreive"):
        build_manager([Typo()], use_entrypoints=False)


def test_builtin_fallbacks_are_trylast():
    pm = build_manager((), use_entrypoints=False)
    for hook in ("route", "generate", "build_messages"):
        impls = getattr(pm.hook, hook).get_hookimpls()
        assert [i.plugin_name for i in impls] == ["core"]
        assert impls[0].trylast


def test_env_narrows_and_blocks_plugins(monkeypatch):
    monkeypatch.setenv("PILOTFISH_LOAD_PLUGINS", "shout")
    names = set(installed_plugins())
    assert names == {"core", "models", "shout"}
    monkeypatch.setenv("PILOTFISH_LOAD_PLUGINS", "")
    assert set(installed_plugins()) == {"core", "models"}
    with pytest.raises(PluginNotFoundError):
        Pilot(model="fake", plugins=["shout"])
    monkeypatch.delenv("PILOTFISH_LOAD_PLUGINS")
    monkeypatch.setenv("PILOTFISH_DISABLE_PLUGINS", "shout")
    assert "shout" not in installed_plugins()


def test_disabled_plugin_object_is_not_registered(monkeypatch, make_pilot):
    class Loud:
        name = "loud"

        @hookimpl
        def before_prompt(self, request):
            return request.replace(question="LOUD")

    monkeypatch.setenv("PILOTFISH_DISABLE_PLUGINS", "loud")
    assert make_pilot(Loud()).run("quiet").text == "echo: quiet"


def test_trace_env_prints_each_hook_call():
    code = "import pilotfish; pilotfish.Pilot(model='fake', use_entrypoints=False).run('hi')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__('os').environ, "PILOTFISH_TRACE": "1"}, check=True)
    lines = [line for line in out.stderr.splitlines() if line.startswith("[pilotfish]")]
    hooks = [line.split()[1] for line in lines]
    assert [h for h in hooks if h != "register_models"] == ["route", "build_messages", "generate"]
    assert all(" ms " in line for line in lines)
    assert any(line.split()[1:3] == ["generate", "core"] for line in lines)


def test_plugin_class_with_options(make_pilot):
    class Prefix(pilotfish.Plugin):
        name = "prefix"

        class Options(pilotfish.PluginOptions):
            text: str = ">>"

        @hookimpl
        def before_prompt(self, request):
            return request.replace(question=f"{self.options.text} {request.question}")

    assert make_pilot(Prefix(text="##")).run("x").text == "echo: ## x"
    assert make_pilot(Prefix).run("x").text == "echo: >> x"
    with pytest.raises(ConfigError, match="plugin 'prefix': unknown option 'txt'"):
        Prefix(txt="a")


def test_register_models_from_an_installed_package():
    from pilotfish.core.models import registry

    reg = registry(refresh=True)
    assert reg.models["shout-echo"].description.startswith("echoes the question")
    assert Pilot(model="shout-echo").run("quiet please").text == "QUIET PLEASE"


def test_register_models_hook_on_a_manager():
    from pilotfish.core.models import ModelRegistry

    class Models:
        @hookimpl
        def register_models(self, register):
            register("mine", lambda: pilotfish.FakeModel(["mine"], model_id="mine"), aliases=("my-model",))
            register.scheme("rev", lambda rest: pilotfish.FakeModel([rest[::-1]], model_id=f"rev:{rest}"))

    pm = build_manager([Models()], use_entrypoints=False)
    reg = ModelRegistry()
    pm.hook.register_models(register=reg)
    assert reg.resolve("my-model")[0] == "mine"
    model_id, factory = reg.resolve("rev:abc")
    assert model_id == "rev:abc" and factory().generate("x").text == "cba"
    with pytest.raises(pilotfish.ModelNotFoundError, match=r"unknown model 'nope'; known models: .*mine.*; id forms: .*rev:<\.\.\.>"):
        reg.resolve("nope")
