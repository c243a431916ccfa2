#!/usr/bin/env python3
"""Run the digestgate steps of a workflow written in a Markdown file, as a runner would.

  run_workflow.py DOC.md VALUES.json

Takes the first ```yaml block of DOC.md that defines `jobs`, and runs, job by job in the order
written, each step that uses this repository's composite actions (`.../actions/record@REF`,
`.../actions/promote@REF`) through run_composite.py. Other steps (checkout, docker, trivy, syft,
cosign) are the tools' business: the caller has put their output files in the working directory.
Every ${{ EXPR }} in a step's `with:` is replaced by VALUES[EXPR] (e.g. "vars.DIGESTGATE_URL",
"steps.push.outputs.image"); an expression with no value is an error, so the test notices when the
documented workflow changes. Prints {"jobs": {JOB: {STEP_INDEX: outputs}}} and exits with the
first failing step's status.
"""
import contextlib
import io
import json
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(__file__))
import run_composite  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
USES = re.compile(r".*/actions/(record|promote)@[^/]+$")


def workflow(doc_path):
    text = open(doc_path, encoding="utf-8").read()
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        doc = yaml.safe_load(block)
        if isinstance(doc, dict) and "jobs" in doc:
            return doc
    raise SystemExit(f"{doc_path}: no ```yaml block with jobs")


def substitute(value, values):
    def one(m):
        expr = m.group(1)
        if expr not in values:
            raise SystemExit(f"no value for ${{{{ {expr} }}}}")
        return str(values[expr])

    return run_composite.EXPR.sub(one, str(value))


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    flow = workflow(argv[0])
    values = json.load(open(argv[1], encoding="utf-8"))
    report = {"jobs": {}}
    ran = 0
    for job_name, job in flow["jobs"].items():
        for index, step in enumerate(job.get("steps") or []):
            m = USES.match(str(step.get("uses", "")))
            if not m:
                continue
            action = os.path.join(ROOT, "actions", m.group(1), "action.yml")
            inputs = {k: substitute(v, values) for k, v in (step.get("with") or {}).items()}
            inputs_file = os.path.join(os.getcwd(), f".inputs-{job_name}-{index}.json")
            with open(inputs_file, "w", encoding="utf-8") as f:
                json.dump(inputs, f)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                try:
                    status = run_composite.run(action, inputs)
                except run_composite.ActionError as e:
                    print(f"run_workflow: {e}", file=sys.stderr)
                    return 2
            result = json.loads(out.getvalue().strip().splitlines()[-1])
            report["jobs"].setdefault(job_name, {})[str(index)] = result
            ran += 1
            if status != 0:
                print(json.dumps(report))
                return status
    if ran == 0:
        print("run_workflow: the workflow uses no digestgate action", file=sys.stderr)
        return 2
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
