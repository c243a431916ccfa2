#!/usr/bin/env python3
"""The composite actions under actions/ pass the checks of run_composite.py, and the checks catch
what they claim to: a step without a shell, an input that does not exist, an output of a step that
does not come first, a required input with a default, an expression a runner would not have."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import run_composite  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

GOOD = """
name: t
description: d
inputs:
  a: {description: d, required: true}
  b: {description: d, required: false, default: x}
outputs:
  o: {description: d, value: "${{ steps.s.outputs.v }}"}
runs:
  using: composite
  steps:
    - id: s
      shell: bash
      env: {A: "${{ inputs.a }}", T: "${{ runner.temp }}"}
      run: echo "v=$A${{ inputs.b }}" >> "$GITHUB_OUTPUT"
"""


def problems(text):
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write(text)
    try:
        return run_composite.check(f.name)
    finally:
        os.unlink(f.name)


class Actions(unittest.TestCase):
    def test_the_repository_actions_pass(self):
        for name in ("record", "promote"):
            path = os.path.join(ROOT, "actions", name, "action.yml")
            self.assertEqual(run_composite.check(path), [], path)

    def test_a_good_action_passes(self):
        self.assertEqual(problems(GOOD), [])

    def test_a_step_without_shell(self):
        self.assertIn("step 1 (unnamed) has run but no shell",
                      problems(GOOD.replace("      shell: bash\n", "")))

    def test_an_unknown_input(self):
        self.assertIn("step 1 (unnamed): unknown input c",
                      problems(GOOD.replace("inputs.b", "inputs.c")))

    def test_an_output_of_a_missing_step(self):
        self.assertIn("output o: no earlier step with id t",
                      problems(GOOD.replace("steps.s.", "steps.t.")))

    def test_a_required_input_with_a_default(self):
        self.assertIn("input a is required but has a default",
                      problems(GOOD.replace("required: true}", "required: true, default: y}")))

    def test_an_expression_a_runner_would_not_have(self):
        self.assertIn("step 1 (unnamed): unsupported expression 'secrets.TOKEN'",
                      problems(GOOD.replace("inputs.b", "secrets.TOKEN")))

    def test_not_composite(self):
        self.assertIn("runs.using is not composite",
                      problems(GOOD.replace("using: composite", "using: node20")))


if __name__ == "__main__":
    unittest.main()
