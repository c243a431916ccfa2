#!/usr/bin/env python3
"""Check and run the repository's composite actions (actions/*/action.yml) the way an Actions
runner does, so the tests exercise exactly the steps a workflow runs.

  run_composite.py --check ACTION.yml...          validate the files (exit 0 valid, 1 not)
  run_composite.py ACTION.yml INPUTS.json         run it; prints {"outputs": {...}} on stdout

Checks (actionlint is not in Debian): the file is YAML with name, description and runs; runs.using
is "composite"; every input has a description and a required flag; every step has a shell when it
has a run script; every ${{ }} expression names an input that exists, runner.temp, or the output
of an earlier step with an id; every declared output refers to a step that exists.

Running: inputs are the JSON object given (defaults applied; a missing required input fails);
each step's `run` is executed with `bash --noprofile --norc -eo pipefail FILE` like a runner's
`shell: bash`, with RUNNER_TEMP and GITHUB_OUTPUT set and the step's env evaluated; outputs are
read from GITHUB_OUTPUT (name=value and name<<DELIMITER blocks).
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


class ActionError(Exception):
    pass


def load(path):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict):
        raise ActionError(f"{path}: not a YAML mapping")
    return doc


def check(path):
    doc = load(path)
    problems = []
    for key in ("name", "description", "runs"):
        if key not in doc:
            problems.append(f"missing {key}")
    unknown = set(doc) - {"name", "description", "author", "inputs", "outputs", "runs", "branding"}
    if unknown:
        problems.append(f"unknown top-level keys {sorted(unknown)}")
    inputs = doc.get("inputs") or {}
    for name, spec in inputs.items():
        if not isinstance(spec, dict) or "description" not in spec:
            problems.append(f"input {name} has no description")
            continue
        if "required" not in spec:
            problems.append(f"input {name} does not say whether it is required")
        if spec.get("required") and spec.get("default") not in (None, ""):
            problems.append(f"input {name} is required but has a default")
    runs = doc.get("runs") or {}
    if runs.get("using") != "composite":
        problems.append("runs.using is not composite")
    step_ids = []
    for i, step in enumerate(runs.get("steps") or []):
        where = f"step {i + 1} ({step.get('name', 'unnamed')})"
        if "run" in step and "shell" not in step:
            problems.append(f"{where} has run but no shell")
        texts = [step.get("run", "")] + [str(v) for v in (step.get("env") or {}).values()]
        for text in texts:
            for expr in EXPR.findall(text):
                problem = check_expression(expr, inputs, step_ids)
                if problem:
                    problems.append(f"{where}: {problem}")
        if "id" in step:
            step_ids.append(step["id"])
    for name, spec in (doc.get("outputs") or {}).items():
        for expr in EXPR.findall(str((spec or {}).get("value", ""))):
            problem = check_expression(expr, inputs, step_ids)
            if problem:
                problems.append(f"output {name}: {problem}")
    return problems


def check_expression(expr, inputs, step_ids):
    if expr == "runner.temp":
        return None
    m = re.fullmatch(r"inputs\.([A-Za-z0-9_-]+)", expr)
    if m:
        return None if m.group(1) in inputs else f"unknown input {m.group(1)}"
    m = re.fullmatch(r"steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)", expr)
    if m:
        return None if m.group(1) in step_ids else f"no earlier step with id {m.group(1)}"
    return f"unsupported expression '{expr}'"


def read_outputs(path):
    outputs = {}
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            value = []
            i += 1
            while i < len(lines) and lines[i] != delimiter:
                value.append(lines[i])
                i += 1
            outputs[name] = "\n".join(value)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
        i += 1
    return outputs


def run(path, inputs):
    doc = load(path)
    problems = check(path)
    if problems:
        raise ActionError(f"{path}: " + "; ".join(problems))
    values = {}
    for name, spec in (doc.get("inputs") or {}).items():
        if name in inputs:
            values[name] = str(inputs[name])
        elif spec.get("required"):
            raise ActionError(f"missing required input {name}")
        else:
            values[name] = str(spec.get("default", ""))
    unknown = set(inputs) - set(values)
    if unknown:
        raise ActionError(f"unknown inputs {sorted(unknown)}")
    temp = tempfile.mkdtemp(prefix="runner-temp-")
    step_outputs = {}

    def evaluate(text):
        def one(m):
            expr = m.group(1)
            if expr == "runner.temp":
                return temp
            if expr.startswith("inputs."):
                return values[expr[len("inputs."):]]
            _, step, _, name = expr.split(".")
            return step_outputs.get(step, {}).get(name, "")

        return EXPR.sub(one, str(text))

    for step in doc["runs"]["steps"]:
        output_file = os.path.join(temp, "github-output")
        open(output_file, "w").close()
        env = dict(os.environ, RUNNER_TEMP=temp, GITHUB_OUTPUT=output_file)
        for key, value in (step.get("env") or {}).items():
            env[key] = evaluate(value)
        script = os.path.join(temp, "step.sh")
        with open(script, "w", encoding="utf-8") as f:
            f.write(evaluate(step["run"]))
        status = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", script],
                                env=env).returncode
        if "id" in step:
            step_outputs[step["id"]] = read_outputs(output_file)
        if status != 0:
            print(json.dumps({"failed_step": step.get("name"), "status": status}))
            return status
    outputs = {name: evaluate(spec.get("value", "")) for name, spec in (doc.get("outputs") or {}).items()}
    print(json.dumps({"outputs": outputs}))
    return 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "--check":
        failed = False
        for path in argv[1:]:
            for problem in check(path):
                print(f"{path}: {problem}")
                failed = True
        return 1 if failed else 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        inputs = json.load(f)
    try:
        return run(argv[0], inputs)
    except ActionError as e:
        print(f"run_composite: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
