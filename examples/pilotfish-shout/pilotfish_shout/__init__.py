"""An example third-party plugin package for pilotfish.

``pip install -e examples/pilotfish-shout`` registers the plugin ``shout`` through the entry
point group ``pilotfish``; enable it by name in ``pilotfish.toml``::

    [pilotfish]
    plugins = ["shout"]

    [pilotfish.plugin.shout]
    suffix = "!!"
"""

import pilotfish


class Shout(pilotfish.Plugin):
    """Upper-cases the question and appends a suffix (a ``before_prompt`` enhancer)."""

    name = "shout"

    class Options(pilotfish.PluginOptions):
        suffix: str = "!"

    @staticmethod
    @pilotfish.hookimpl
    def register_models(register):
        """Process-wide hooks of a plugin class are static methods (read without instantiating)."""
        register(
            "shout-echo",
            lambda: pilotfish.FakeModel(lambda messages: messages[-1]["content"].upper(), model_id="shout-echo"),
            description="echoes the question in capitals (an example third-party model)",
        )

    @pilotfish.hookimpl
    def before_prompt(self, request):
        return request.replace(question=request.question.upper() + self.options.suffix)
