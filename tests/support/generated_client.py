"""Python clients generated from the services' live OpenAPI documents with openapi-python-client (docs/api.md).

What a client team would do on day one: point a maintained generator at /openapi.json and call the API through
the classes it makes. Generation runs the real command-line tool into a temporary folder; the packages are
imported from there, so a document a generator cannot read fails the test that needs it.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx

CONFIG = """\
package_name_override: {package}
project_name_override: {package}
post_hooks: []
"""


def generate(service: str, url: str, folder: Path) -> tuple[ModuleType, str]:
    """Generate and import ``skolit_<service>_client``; returns the package and what the generator warned about."""
    package = f"skolit_{service}_client"
    document = folder / f"{service}.json"
    document.write_text(json.dumps(httpx.get(f"{url}/openapi.json", timeout=30).json()), encoding="utf-8")
    config = folder / f"{service}.yaml"
    config.write_text(CONFIG.format(package=package), encoding="utf-8")
    out = folder / package
    done = subprocess.run([str(Path(sys.executable).with_name("openapi-python-client")), "generate", "--path", str(document),
                           "--output-path", str(out), "--meta", "none", "--config", str(config), "--overwrite"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    return importlib.import_module(package), done.stdout + done.stderr
