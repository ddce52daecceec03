"""Prometheus for the tests: Debian's `prometheus` and `promtool`, unpacked by deploy/prometheus/install.sh.

The binaries are looked up in .venv/prometheus/bin, then on PATH. When neither has them the test fails (it
does not skip): a missing Prometheus would otherwise turn the alert checks silently green.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from devkit.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]
LOCAL_BIN = ROOT / ".venv" / "prometheus" / "bin"
SCRAPE_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"
RULE_TESTS_DIR = ROOT / "deploy" / "prometheus" / "tests"
INSTALL_HINT = "run `bash deploy/prometheus/install.sh` (make test does it) to unpack Debian's prometheus package into .venv/prometheus"


def binary(name: str) -> str:
    """Path of `prometheus` or `promtool`; fails the calling test when there is none."""
    local = LOCAL_BIN / name
    if local.exists() and os.access(local, os.X_OK):  # exists() follows the symlink: a dangling one does not count
        return str(local)
    found = shutil.which(name)
    if found:
        return found
    pytest.fail(f"{name} not found in {LOCAL_BIN} or on PATH: {INSTALL_HINT}", pytrace=False)


def promtool(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary("promtool"), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


def rule_test_files() -> list[Path]:
    return sorted(RULE_TESTS_DIR.glob("*.yml"))


def scrape_config(targets: dict[str, str], *, interval: str = "1s") -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with the services' real addresses and a short interval.

    Starting from the repository's file (rather than writing a new one) keeps the job name and the target
    labels the alert rules rely on exactly as production has them.
    """
    config = yaml.safe_load(SCRAPE_CONFIG.read_text(encoding="utf-8"))
    config["global"] = {**config.get("global", {}), "scrape_interval": interval, "evaluation_interval": interval}
    jobs = [job for job in config["scrape_configs"] if job["job_name"] == "skolit"]
    assert len(jobs) == 1, "prometheus.yml has one scrape job named skolit"
    job = jobs[0]
    job["scrape_interval"] = interval
    def key(static: dict[str, Any]) -> str:
        labels = static.get("labels") or {}
        return f"{labels.get('service')}/{labels['process']}" if labels.get("process") else str(labels.get("service"))

    # a process of its own (notification's senders, `process: work`, decision 0029) is scraped where the stack runs one:
    # targets name it "notification/work"; the session stack runs the senders in notification's own process
    job["static_configs"] = [static for static in job["static_configs"] if "/" not in key(static) or key(static) in targets]
    by_service = {key(static): static for static in job["static_configs"]}
    assert set(by_service) == set(targets), f"prometheus.yml scrapes {sorted(by_service)}, the stack runs {sorted(targets)}"
    for service, address in targets.items():
        by_service[service]["targets"] = [address]
    config["rule_files"] = [str(p) for p in rule_files()]
    return config


class Prometheus:
    """A Prometheus server process with its own data directory and a free port."""

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        self.workdir = workdir
        self.config = config
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> Prometheus:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(self.config, sort_keys=False), encoding="utf-8")
        self.port = free_port()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [binary("prometheus"), f"--config.file={config_path}", f"--storage.tsdb.path={self.workdir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"prometheus not ready after {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def __enter__(self) -> Prometheus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def api(self, path: str, **params: Any) -> Any:
        r = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = r.json()
        assert r.status_code == 200 and body.get("status") == "success", f"{path} {params}: {r.status_code} {body}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's vector: [{"metric": {...}, "value": [t, "v"]}, ...]."""
        return self.api("query", query=expr)["result"]

    def values_by(self, expr: str, label: str) -> dict[str, float]:
        """An instant query as {value of `label`: sample value}."""
        return {s["metric"].get(label, ""): float(s["value"][1]) for s in self.query(expr)}

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
