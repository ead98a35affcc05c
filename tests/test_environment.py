"""The three descriptions of the environment agree: pyproject (what the code needs),
constraints.txt (the tested pins set-up installs) and environment.yml (the same for conda)."""
import re

from autograder.course import ROOT


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject():
    # tomllib is Python 3.11+; the course supports 3.10, so read the two lists with a regex.
    text = (ROOT / "pyproject.toml").read_text()
    deps = []
    for key in (r"^dependencies", r"^test"):
        block = re.search(key + r"\s*=\s*\[(.*?)\]", text, flags=re.S | re.M).group(1)
        deps += re.findall(r'"([^"]+)"', block)
    return {_name(d) for d in deps}


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.strip().lstrip("- ").strip()
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[_name(name)] = version.strip()
    return pins


def test_environment_yml_lists_the_pyproject_packages_at_the_pinned_versions():
    text = (ROOT / "environment.yml").read_text()
    pip_section = text.split("- pip:", 1)[1].splitlines()
    env = _pins(pip_section)
    assert set(env) == _pyproject()
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    for name, version in env.items():
        assert constraints.get(name) == version, f"{name}: environment.yml {version}, constraints {constraints.get(name)}"


def test_constraints_pin_every_dependency_and_the_cpu_torch():
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    missing = _pyproject() - set(constraints)
    assert not missing, f"not pinned in constraints.txt: {sorted(missing)}"
    assert constraints["torch"] == "2.13.0"
    assert constraints["nbgrader"] == "0.9.6"


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, flags=re.S)[0].strip().splitlines()
    commands = [c for c in commands if c.strip() and not c.startswith("#")]
    assert commands == ["make lab", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()
