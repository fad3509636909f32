#!/usr/bin/python3
"""Runs the gate job of docs/examples/joulecast-gate.yml the way GitHub Actions would.

Usage: ci_example_test.py JOULECAST_BINARY SOURCE_DIR

Loads the workflow, takes the `run:` steps of its one job and runs them in order with
`bash --noprofile --norc -eo pipefail` (what `shell: bash` means on GitHub), in a temporary
workspace where `pr/` is this source tree and `base/` a fake base-branch checkout. Steps that
use an action (`uses:`: the checkouts, the upload) or whose name says they install or build are
replaced by what this test set up: the joulecast built here, first on PATH. Every other step runs
as written, with the job's and the step's env, GITHUB_STEP_SUMMARY pointing at a file, and
`if:` honoured for always() and failure().

It also checks that docs/ci-github-actions.md shows the workflow exactly as the file has it.

Four scenarios, each with what must come out of it:
  pass        the base branch has the same model: the gate passes, the summary has the table,
              the JUnit report has two passing cases;
  over budget BUDGET=1J: the gate step fails with exit 1, and the summary and the JUnit report
              are still written, with the failure;
  regression  the base branch's model is a cheaper one: the baseline check fails;
  new model   the base branch lacks the model: no baseline, the budget alone gates.
Exit 0 when every scenario behaves; 1 with the first difference otherwise.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import yaml

GATE_STEP = "Gate the training energy"
SKIP_NAME = re.compile(r"\b(install|build)\b", re.IGNORECASE)
STEP_TIMEOUT_S = 300


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def load_job(workflow_path):
    with open(workflow_path, encoding="utf-8") as f:
        workflow = yaml.safe_load(f)
    jobs = workflow.get("jobs") or {}
    check(len(jobs) == 1, f"{workflow_path}: expected one job, found {list(jobs)}")
    (name, job), = jobs.items()
    check(job.get("container") == "debian:12" or "ubuntu" in str(job.get("runs-on")),
          f"job {name}: runs neither in debian:12 nor on an ubuntu runner")
    shell = ((job.get("defaults") or {}).get("run") or {}).get("shell")
    check(shell == "bash", f"job {name}: defaults.run.shell is {shell!r}, expected bash")
    return name, job


def run_job(job, workspace, binary, extra_env, log):
    """Runs the job's steps; returns (name of the first failed step or None, names run)."""
    summary = os.path.join(workspace, "step_summary.md")
    open(summary, "w").close()
    env = dict(os.environ)
    env.update({
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": workspace,
        "GITHUB_STEP_SUMMARY": summary,
        "GITHUB_PATH": os.path.join(workspace, "github_path"),
        "GITHUB_ENV": os.path.join(workspace, "github_env"),
        "GITHUB_OUTPUT": os.path.join(workspace, "github_output"),
        "RUNNER_TEMP": tempfile.mkdtemp(dir=workspace),
        "PATH": os.path.dirname(os.path.abspath(binary)) + os.pathsep + os.environ["PATH"],
    })
    for key, value in (job.get("env") or {}).items():
        check("${{" not in str(value), f"job env {key} uses an expression this test cannot run")
        env[key] = str(value)
    env.update(extra_env)

    failed = None
    ran = []
    for index, step in enumerate(job["steps"]):
        name = step.get("name", f"step {index}")
        condition = str(step.get("if", "")).replace("${{", "").replace("}}", "").strip()
        check(condition in ("", "always()", "failure()", "success()"),
              f"step {name!r}: if: {condition!r} is not one this test understands")
        should_run = {"": failed is None, "success()": failed is None,
                      "always()": True, "failure()": failed is not None}[condition]
        if "uses" in step or SKIP_NAME.search(name):
            log.append(f"  skipped (set up by the test): {name}")
            continue
        check("run" in step, f"step {name!r} neither uses an action nor runs a script")
        if not should_run:
            log.append(f"  not run (an earlier step failed): {name}")
            continue
        script = step["run"]
        check("${{" not in script, f"step {name!r}: its script uses ${{{{ }}}}, which only "
              "GitHub can expand; use the env instead")
        step_env = dict(env)
        for key, value in (step.get("env") or {}).items():
            step_env[key] = str(value)
        script_path = os.path.join(workspace, f"step{index}.sh")
        with open(script_path, "w", encoding="utf-8") as f:
            f.write(script)
        cwd = os.path.join(workspace, step.get("working-directory", "."))
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", script_path],
                                cwd=cwd, env=step_env, capture_output=True, text=True,
                                timeout=STEP_TIMEOUT_S)
        ran.append(name)
        log.append(f"  exit {result.returncode}: {name}")
        for stream in (result.stdout, result.stderr):
            log.extend("    | " + line for line in stream.splitlines())
        if result.returncode != 0 and failed is None:
            failed = name
            log.append(f"  (exit code {result.returncode})")
    return failed, ran


def read(path):
    check(os.path.isfile(path), f"{os.path.basename(path)} was not written")
    with open(path, encoding="utf-8") as f:
        return f.read()


def junit(workspace):
    path = os.path.join(workspace, "joulecast-gate.xml")
    read(path)
    root = ET.parse(path).getroot()
    check(root.tag == "testsuites", f"JUnit root is <{root.tag}>, not <testsuites>")
    suites = root.findall("testsuite")
    check(len(suites) == 1 and suites[0].get("name") == "joulecast gate",
          "JUnit: expected one <testsuite name=\"joulecast gate\">")
    cases = suites[0].findall("testcase")
    failures = [c for c in cases if c.find("failure") is not None]
    check(suites[0].get("tests") == str(len(cases)), "JUnit: tests= does not count the cases")
    check(suites[0].get("failures") == str(len(failures)), "JUnit: failures= is wrong")
    return cases, failures


def make_workspace(root, source_dir, model, base_model):
    """pr/ is the source tree; base/ holds the base branch's copy of MODEL (or none)."""
    workspace = tempfile.mkdtemp(dir=root)
    os.symlink(os.path.abspath(source_dir), os.path.join(workspace, "pr"))
    base = os.path.join(workspace, "base")
    if base_model == "same":
        os.symlink(os.path.abspath(source_dir), base)
    else:
        os.makedirs(os.path.join(base, os.path.dirname(model)))
        if base_model is not None:
            shutil.copy(os.path.join(source_dir, base_model), os.path.join(base, model))
    return workspace


def check_workflow(binary, source_dir):
    """Checks the workflow's shape and its copy in the docs; returns the job."""
    check(os.access(binary, os.X_OK), f"{binary} is not an executable")
    workflow = os.path.join(source_dir, "docs", "examples", "joulecast-gate.yml")
    _, job = load_job(workflow)
    doc = os.path.join(source_dir, "docs", "ci-github-actions.md")
    check("```yaml\n" + read(workflow) + "```\n" in read(doc),
          "docs/ci-github-actions.md does not show docs/examples/joulecast-gate.yml as it is")
    check(any(s.get("name") == GATE_STEP for s in job["steps"]), f"no step {GATE_STEP!r}")
    uploads = [s for s in job["steps"]
               if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    check(uploads and "joulecast-gate.xml" in str(uploads[0].get("with", {}).get("path")) and
          uploads[0].get("if") == "always()",
          "the JUnit report is not uploaded with if: always()")
    return job


def scenarios(job, binary, source_dir, root, log):
    model = job["env"]["MODEL"]

    log.append("scenario: pass")
    ws = make_workspace(root, source_dir, model, "same")
    failed, ran = run_job(job, ws, binary, {}, log)
    check(failed is None, f"pass: step {failed!r} failed")
    check(GATE_STEP in ran and "Baseline from the base branch" in ran,
          f"pass: the gate steps did not all run: {ran}")
    summary = read(os.path.join(ws, "step_summary.md"))
    check(summary.startswith("### joulecast gate: \u2705 passed (2 checks)"),
          f"pass: summary starts {summary[:80]!r}")
    check("| check | limit | predicted | margin | result |" in summary, "pass: no table")
    check("baseline: " in summary and "budget: " in summary, "pass: a check is missing")
    check("Per-layer analysis" in summary, "pass: the analysis is not in the summary")
    cases, failures = junit(ws)
    check(len(cases) == 2 and not failures, f"pass: {len(cases)} cases, {len(failures)} failed")
    for f in ("baseline.json", "pr-analysis.json", "joulecast-gate.md"):
        read(os.path.join(ws, f))

    log.append("scenario: over budget")
    ws = make_workspace(root, source_dir, model, "same")
    failed, _ = run_job(job, ws, binary, {"BUDGET": "1J"}, log)
    check(failed == GATE_STEP, f"over budget: expected {GATE_STEP!r} to fail, got {failed!r}")
    summary = read(os.path.join(ws, "step_summary.md"))
    check(summary.startswith("### joulecast gate: \u274c failed (1 of 2 checks)"),
          f"over budget: summary starts {summary[:80]!r}")
    cases, failures = junit(ws)
    check(len(failures) == 1 and
          "exceeds budget 1 J" in failures[0].find("failure").get("message"),
          "over budget: the JUnit failure does not name the budget")

    log.append("scenario: regression against the base branch")
    ws = make_workspace(root, source_dir, model, "models/lenet5.json")
    failed, _ = run_job(job, ws, binary, {}, log)
    check(failed == GATE_STEP, f"regression: expected {GATE_STEP!r} to fail, got {failed!r}")
    cases, failures = junit(ws)
    check(len(cases) == 2 and len(failures) == 1 and
          failures[0].find("failure").get("type") == "over baseline",
          "regression: the baseline case did not fail alone")

    log.append("scenario: a model new in the pull request")
    ws = make_workspace(root, source_dir, model, None)
    failed, _ = run_job(job, ws, binary, {}, log)
    check(failed is None, f"new model: step {failed!r} failed")
    check(not os.path.exists(os.path.join(ws, "baseline.json")), "new model: a baseline?")
    cases, failures = junit(ws)
    check(len(cases) == 1 and not failures, "new model: expected one passing budget case")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, source_dir = sys.argv[1], sys.argv[2]
    root = tempfile.mkdtemp(prefix="joulecast_ci_example_")
    log = []
    try:
        job = check_workflow(binary, source_dir)
        scenarios(job, binary, source_dir, root, log)
    except (Failure, subprocess.TimeoutExpired, ET.ParseError, yaml.YAMLError, OSError,
            KeyError) as e:
        print("\n".join(log))
        print(f"ci_example: FAIL: {type(e).__name__}: {e}")
        return 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("\n".join(log))
    print("ci_example: OK: 4 scenarios")
    return 0


if __name__ == "__main__":
    sys.exit(main())
