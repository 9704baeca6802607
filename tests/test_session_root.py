"""Each user's sessions live in a root of their own that nobody else can
write: one user can neither break another's runtime nor take it over."""
from __future__ import annotations

import logging
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

import fastray

OTHER_USER = "nobody"

needs_root = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: the test acts as a second user (chown, or setuid to nobody)")

SECOND_USER_DRIVER = textwrap.dedent("""
    import fastray as ray
    context = ray.init(num_cpus=1)

    @ray.remote
    def double(x):
        return 2 * x

    print(ray.get(double.remote(21), timeout=60), context.address_info["session_dir"])
    ray.shutdown()
""")


@pytest.fixture
def shared_tmp(monkeypatch, tmp_path_factory):
    """A folder like /tmp (world-writable, sticky) that this process uses as
    its temp folder; outside pytest's tmp_path, which only its owner can enter."""
    tmp_path_factory.getbasetemp()  # made in the real temp folder, before the switch
    path = Path(tempfile.mkdtemp(prefix="fastray-test-shared-"))
    path.chmod(0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    yield path
    shutil.rmtree(path)


def double_in_a_task() -> int:
    @fastray.remote
    def double(x):
        return 2 * x

    return fastray.get(double.remote(21), timeout=60)


def python_for(user: pwd.struct_passwd, cwd: Path) -> tuple[str, dict[str, str]]:
    """A Python that user can run and that imports this fastray, with the
    environment to run it in: this test's own, or else the system's of the
    same version, given the folders of fastray and its dependencies.
    Skips when there is none (a checkout that user cannot read)."""
    import cloudpickle
    import numpy
    folders = dict.fromkeys(str(Path(module.__file__).parents[1])
                            for module in (fastray, numpy, cloudpickle))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd),
           "TMPDIR": str(cwd), "PYTHONPATH": os.pathsep.join(folders)}
    same_version = shutil.which("python%d.%d" % sys.version_info[:2],
                                path="/usr/local/bin:/usr/bin:/bin")
    failures = []
    for python in filter(None, [sys.executable, same_version]):
        try:
            probe = run_as(user, [python, "-c", "import fastray._scheduler"], env, cwd)
        except PermissionError as exc:
            failures.append(f"{python}: {exc.strerror}")
            continue
        if probe.returncode == 0:
            return python, env
        failures.append(f"{python}: {(probe.stderr.strip().splitlines() or ['?'])[-1]}")
    pytest.skip(f"user {user.pw_name} cannot run a Python that imports this fastray "
                f"({'; '.join(failures)}); the checkout and its virtual environment must "
                f"be readable by {user.pw_name} for this test")


def run_as(user: pwd.struct_passwd, command: list[str], env: dict[str, str], cwd: Path
           ) -> subprocess.CompletedProcess:
    return subprocess.run(command, user=user.pw_uid, group=user.pw_gid, extra_groups=[],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def assert_private(path: Path, uid: int) -> None:
    info = path.lstat()
    assert stat.S_ISDIR(info.st_mode) and info.st_uid == uid
    assert stat.S_IMODE(info.st_mode) == 0o700, oct(info.st_mode)


@needs_root
@pytest.mark.timeout(300)
def test_a_second_user_can_run_fastray_after_root_did(shared_tmp):
    other = pwd.getpwnam(OTHER_USER)
    python, env = python_for(other, shared_tmp)
    fastray.init(num_cpus=1)
    assert double_in_a_task() == 42
    fastray.shutdown()

    result = run_as(other, [python, "-c", SECOND_USER_DRIVER], env, shared_tmp)

    assert result.returncode == 0, result.stderr
    value, session_dir = result.stdout.split()
    assert value == "42"
    assert Path(session_dir).parent == shared_tmp / f"fastray-{other.pw_uid}"
    assert "not used" not in result.stderr
    assert_private(shared_tmp / f"fastray-{other.pw_uid}", other.pw_uid)
    assert_private(shared_tmp / "fastray-0", 0)


def squat_owned_by_another_user(root: Path, outside: Path) -> str:
    root.mkdir(mode=0o700)
    nobody = pwd.getpwnam(OTHER_USER)
    os.chown(root, nobody.pw_uid, nobody.pw_gid)
    return "belongs to another user"


def squat_with_a_symlink(root: Path, outside: Path) -> str:
    root.symlink_to(outside)
    return "is a symbolic link"


def squat_writable_by_others(root: Path, outside: Path) -> str:
    root.mkdir()
    root.chmod(0o777)
    return "other users can write to it"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("squat", [
    pytest.param(squat_owned_by_another_user, marks=needs_root),
    squat_with_a_symlink,
    squat_writable_by_others,
])
def test_a_session_root_someone_else_controls_is_not_used(shared_tmp, tmp_path, caplog,
                                                          squat):
    root = shared_tmp / f"fastray-{os.geteuid()}"
    reason = squat(root, tmp_path)
    with caplog.at_level(logging.WARNING, logger="fastray"):
        context = fastray.init(num_cpus=1)
    session_dir = Path(context.address_info["session_dir"])

    assert double_in_a_task() == 42
    assert f"{root} is not used" in caplog.text and reason in caplog.text
    assert str(session_dir) in caplog.text
    assert session_dir.parent == shared_tmp
    assert_private(session_dir, os.geteuid())
    assert os.listdir(root) == [] and os.listdir(tmp_path) == []
    fastray.shutdown()
    assert not session_dir.exists()


@pytest.mark.timeout(60)
def test_temp_dir_takes_the_place_of_the_system_temp_folder(tmp_path):
    context = fastray.init(num_cpus=1, _temp_dir=tmp_path / "mine")
    root = tmp_path / "mine" / f"fastray-{os.geteuid()}"
    assert Path(context.address_info["session_dir"]).parent == root
    assert_private(root, os.geteuid())
    assert double_in_a_task() == 42


def test_temp_dir_must_be_a_path():
    with pytest.raises(TypeError, match="_temp_dir must be a path"):
        fastray.init(num_cpus=1, _temp_dir=3)
    assert not fastray.is_initialized()
