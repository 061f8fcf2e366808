"""docker-compose.yml is accepted by Compose and describes every process of the platform."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from config.env import BASE_DIR


def _compose() -> list[str] | None:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_file_is_valid_and_has_every_process() -> None:
    compose = _compose()
    if compose is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must validate docker-compose.yml: .ci/run installs docker-compose")
        pytest.skip("no docker compose / docker-compose on this machine")
    env = {**os.environ, "POSTGRES_PASSWORD": "check", "SECRET_KEY": "check"}
    run = subprocess.run(
        [*compose, "config", "-q"], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    services = subprocess.run(
        [*compose, "--profile", "gateway", "config", "--services"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert set(services) == {
        "postgres",
        "redis",
        "migrate",
        "web",
        "gateway",
        "worker-charging",
        "worker-billing",
        "worker-roaming",
        "beat",
    }


def _dockerfile_env_and_collectstatic() -> tuple[dict[str, str], dict[str, str]]:
    """The image's `ENV` before `collectstatic`, and the variables set on that `RUN` line."""
    image_env: dict[str, str] = {}
    for line in (BASE_DIR / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:1] == ["ENV"]:
            image_env.update(word.partition("=")[::2] for word in words[1:])
        if words[:1] == ["RUN"] and "collectstatic" in words:
            inline = dict(word.partition("=")[::2] for word in words[1 : words.index("python")])
            return image_env, inline
    raise AssertionError("the Dockerfile runs no collectstatic")


def test_the_web_service_serves_the_static_files_the_image_collected() -> None:
    """STATIC_ROOT defaults to DATA_DIR/static; the image collects at build time, and at run
    time DATA_DIR is another folder (a volume): the web process must read where the build
    wrote, or every portal page is a 500 (no manifest entry for its stylesheet)."""
    image_env, inline = _dockerfile_env_and_collectstatic()
    build = {**image_env, **inline}
    built_root = build.get("STATIC_ROOT", f"{build.get('DATA_DIR', '/app/var')}/static")
    web = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())["services"]["web"]
    run = {**image_env, **web["environment"]}
    served_root = run.get("STATIC_ROOT", f"{run.get('DATA_DIR', '/app/var')}/static")
    assert served_root == built_root == "/app/static"
    mounts = [volume.split(":")[1] for volume in web["volumes"]]
    assert not any(served_root.startswith(mount.rstrip("/") + "/") for mount in mounts)
