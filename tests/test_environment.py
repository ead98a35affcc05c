"""The descriptions of the environment agree with each other and with what they install:
pyproject (what the code needs, and the Python versions the pinned set installs on),
constraints.txt (the tested pins set-up installs), environment.yml (the same for conda), the
Makefile's set-up (its messages when Python or venv is unusable) and the system packages script."""
import importlib.metadata
import os
import re
import subprocess
import sys

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from autograder.course import ROOT


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_text() -> str:
    return (ROOT / "pyproject.toml").read_text()


def _pyproject():
    # Read with a regex rather than tomllib, so this file needs nothing beyond what it tests.
    text = _pyproject_text()
    deps = []
    for key in (r"^dependencies", r"^test"):
        block = re.search(key + r"\s*=\s*\[(.*?)\]", text, flags=re.S | re.M).group(1)
        deps += re.findall(r'"([^"]+)"', block)
    return {_name(d) for d in deps}


def _requires_python() -> SpecifierSet:
    return SpecifierSet(re.search(r'^requires-python\s*=\s*"([^"]+)"', _pyproject_text(), re.M).group(1))


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.strip().lstrip("- ").strip()
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[_name(name)] = version.strip()
    return pins


def _constraints():
    return _pins((ROOT / "constraints.txt").read_text().splitlines())


def _yml_pip_lines():
    text = (ROOT / "environment.yml").read_text()
    section = text.split("- pip:", 1)[1].splitlines()
    return [ln.strip()[2:].strip() for ln in section if ln.strip().startswith("- ")]


def test_environment_yml_installs_under_the_same_pins_as_make():
    """Everything pip installs in the conda environment is pinned by the same set as in .venv,
    transitive dependencies included: the pins the yml names itself plus every constraints or
    requirements file it points pip at (conda runs pip from the yml's folder)."""
    effective = {}
    explicit = []
    for line in _yml_pip_lines():
        ref = re.match(r"^(-c|--constraint|-r|--requirement)\s+(\S+)$", line)
        if ref:
            path = ROOT / ref.group(2)
            assert path.is_file(), f"environment.yml points pip at {ref.group(2)}, which is not there"
            effective.update(_pins(path.read_text().splitlines()))
        elif "==" in line:
            explicit.append(line)
    for name, version in _pins(explicit).items():
        assert effective.setdefault(name, version) == version, f"{name}: two pins in environment.yml"
    assert effective == _constraints(), "environment.yml and constraints.txt pin different sets"
    # What is installed: the course with its test and postgresql extras, as the Makefile does.
    assert "-e .[test,postgresql]" in _yml_pip_lines()
    assert '-c constraints.txt -e ".[test,postgresql]"' in (ROOT / "Makefile").read_text()


def test_environment_yml_python_is_one_the_pins_install_on():
    text = (ROOT / "environment.yml").read_text()
    spec = re.search(r"^\s*-\s*python([<>=!,.\d]+)\s*$", text, re.M).group(1)
    spec = SpecifierSet(spec.replace("=3.", "==3.") if spec.startswith("=3") else spec)
    lowest = min(v for v in _grid() if v in spec)
    assert lowest in _requires_python(), f"environment.yml allows Python {lowest}"


def test_constraints_pin_every_dependency_and_the_cpu_torch():
    constraints = _constraints()
    missing = _pyproject() - set(constraints)
    assert not missing, f"not pinned in constraints.txt: {sorted(missing)}"
    assert constraints["torch"] == "2.13.0"
    assert constraints["nbgrader"] == "0.9.6"


def _grid():
    return [Version(f"3.{minor}.{micro}") for minor in range(8, 16) for micro in range(0, 21)]


def test_requires_python_is_what_the_pinned_set_installs_on():
    """requires-python is exactly the Python versions every pin accepts (each pin's own
    Requires-Python, read from its installed metadata): no version it lets in fails to install,
    none it keeps out would have worked."""
    ours = _requires_python()
    specs = {}
    for name, version in _constraints().items():
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{name}=={version} (constraints.txt) is not installed: run make setup")
        assert Version(dist.version).public == Version(version).public, \
            f"{name}: constraints.txt pins {version}, {dist.version} is installed"
        specs[name] = SpecifierSet(dist.metadata.get("Requires-Python") or "")
    for v in _grid():
        refused_by = sorted(n for n, s in specs.items() if v not in s)
        if v in ours:
            assert not refused_by, f"requires-python admits {v}, which {refused_by} do not support"
        else:
            assert refused_by, f"requires-python refuses {v}, which every pin supports"
    assert Version("%d.%d.%d" % sys.version_info[:3]) in ours


def test_readme_states_the_python_requirement():
    readme = (ROOT / "README.md").read_text()
    lowest = min(v for v in _grid() if v in _requires_python())
    assert f"Python {lowest}" in readme, f"README should say the course needs Python {lowest}+"
    assert "Python 3.10" not in readme


def test_readme_opens_with_the_two_commands_and_ci_runs_both_test_steps():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, flags=re.S)[0].strip().splitlines()
    commands = [c for c in commands if c.strip() and not c.startswith("#")]
    assert commands == ["make lab", "make test"]
    ci = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()
          if ln.strip() and not ln.startswith("#")]
    assert ci[-2:] == ["make test", "make test-slow"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r'^test:.*\n\t.*pytest -m "not slow"', makefile, re.M)
    assert re.search(r"^test-slow:.*\n\t.*pytest -m slow", makefile, re.M)


# ----------------------------------------------------------------------------------------------
# Set-up messages: the Makefile on an unusable Python, the system packages script.

def _fake_python(tmp_path, script: str):
    fake = tmp_path / "fake-python"
    fake.write_text("#!/bin/sh\n" + script + f'\nexec "{sys.executable}" "$@"\n')
    fake.chmod(0o755)
    return fake


def _make_setup(tmp_path, fake):
    venv = tmp_path / "venv"
    proc = subprocess.run(["make", "-s", "setup", f"PYTHON={fake}", f"VENV={venv}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    return proc, venv


@pytest.fixture
def make_available():
    if subprocess.run(["sh", "-c", "command -v make"], capture_output=True).returncode:
        pytest.skip("make is not installed")


def test_make_names_python3_venv_when_ensurepip_is_missing(tmp_path, make_available):
    # As on Debian/Ubuntu without python3-venv: the interpreter runs, ensurepip does not import.
    fake = _fake_python(tmp_path, 'case "$*" in *ensurepip*) echo "No module named ensurepip" >&2; '
                                  'exit 1;; esac')
    proc, venv = _make_setup(tmp_path, fake)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "sudo apt-get install python3-venv" in out and "python3.11-venv" in out, out
    assert not venv.exists()


def test_make_refuses_a_python_the_pins_do_not_install_on(tmp_path, make_available):
    fake = _fake_python(tmp_path, 'case "$*" in *version_info*) exit 1;; '
                                  '--version) echo "Python 3.10.12"; exit 0;; esac')
    proc, venv = _make_setup(tmp_path, fake)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "3.11.5 or newer" in out and "Python 3.10.12" in out, out
    assert not venv.exists()


def _system_packages(tmp_path, os_id="debian", uid="0", apt_fails_for=()):
    """Run scripts/system-packages.sh with bwrap and chromium missing and a fake apt-get that logs
    its calls (and fails to install the packages in ``apt_fails_for``)."""
    log = tmp_path / "apt.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fails = " ".join(apt_fails_for)
    (bin_dir / "apt-get").write_text(
        f'#!/bin/sh\necho "$*" >> {log}\nfor p in {fails}; do case "$*" in *"install -y -qq $p"*) '
        f'echo "E: Unable to locate package $p" >&2; exit 100;; esac; done\nexit 0\n')
    (bin_dir / "apt-get").chmod(0o755)
    (tmp_path / "os-release").write_text(f"ID={os_id}\n")
    env = dict(os.environ, APT_GET=str(bin_dir / "apt-get"), BWRAP=str(tmp_path / "no-bwrap"),
               MCLIB_CHROMIUM=str(tmp_path / "no-chromium"), OS_RELEASE=str(tmp_path / "os-release"),
               SYSTEM_PACKAGES_UID=uid)
    proc = subprocess.run(["sh", str(ROOT / "scripts" / "system-packages.sh")], env=env,
                          capture_output=True, text=True, timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    return proc, calls


def test_bubblewrap_is_installed_even_when_chromium_cannot_be(tmp_path):
    proc, calls = _system_packages(tmp_path, apt_fails_for=["chromium"])
    assert proc.returncode == 0
    installs = [c for c in calls if c.startswith("install")]
    assert installs == ["install -y -qq bubblewrap", "install -y -qq chromium"], calls
    assert "browser test (tests/test_browser.py) is skipped" in proc.stdout
    # The fake apt-get "installed" bubblewrap without a bwrap appearing: said, with what it turns off.
    assert "WITHOUT the sandbox" in proc.stdout


def test_on_ubuntu_chromium_is_a_snap(tmp_path):
    proc, calls = _system_packages(tmp_path, os_id="ubuntu")
    assert [c for c in calls if c.startswith("install")] == ["install -y -qq bubblewrap"]
    assert "snap" in proc.stdout and "tests/test_browser.py" in proc.stdout


def test_without_root_nothing_is_installed_and_the_message_says_what_to_do(tmp_path):
    proc, calls = _system_packages(tmp_path, uid="1000")
    assert proc.returncode == 0 and calls == []
    assert "Missing: bubblewrap" in proc.stdout and "Missing: Chromium" in proc.stdout
