"""The code samples of the README, of docs/ and of packages/*/README.md run as written.

Every ```python block of the pages below is executed in a fresh process, in an empty
temporary folder, with top-level ``await`` allowed (as in an asyncio REPL). A python block
that reads ``app.yaml`` gets the page's nearest preceding ```yaml block holding a
``storage:`` section, written to that file. Every such YAML block is also loaded with
``StorageConfig.from_yaml``, so a config example that would not load fails here.

The samples of the cloud pages (S3, R2, GCS, Azure) run too, against the emulators on
127.0.0.1: their ``app.yaml`` is the page's YAML with the endpoint, the credentials and the
bucket redirected to moto, fake-gcs-server or Azurite, so no traffic leaves this machine.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from .azure_setup import create_container

ROOT = Path(__file__).resolve().parents[1]
#: Azurite's well-known development key (public, documented by Microsoft).
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
EXECUTED_PAGES = [
    "README.md",
    "docs/index.md",
    "docs/quickstart.md",
    "docs/configuration.md",
    "docs/errors.md",
    "docs/files-and-forms.md",
    "docs/kv.md",
    "docs/sync.md",
    "docs/urls.md",
    "docs/cli.md",
    "docs/drivers/memory.md",
    "docs/drivers/local.md",
    "docs/otel.md",
    "docs/django.md",
    # the distributions' pages on the package index
    "packages/lexigram-storage-core/README.md",
    "packages/lexigram-storage-local/README.md",
]
YAML_PAGES = sorted(
    {
        *EXECUTED_PAGES,
        *(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md")),
        *(str(p.relative_to(ROOT)) for p in (ROOT / "packages").glob("*/README.md")),
    }
)
_BLOCK = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.S | re.M)
_RUNNER = """
import ast, asyncio, sys
source = open(sys.argv[1], encoding="utf-8").read()
code = compile(source, sys.argv[2], "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
result = eval(code, {"__name__": "__main__"})
if asyncio.iscoroutine(result):
    asyncio.run(result)
"""
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _env_for(*texts: str | None) -> dict[str, str]:
    """A made-up value (never a real credential) for every ${VAR} without a default."""
    names = {name for text in texts if text for name in _VAR.findall(text)}
    values = {name: f"docs-example-{name.lower()}" for name in names}
    for name in names:
        if "CONNECTION_STRING" in name:  # must parse as one
            values[name] = (
                "AccountName=docsexample;AccountKey=ZG9jcw==;EndpointSuffix=core.windows.net"
            )
    return {**os.environ, **values}


def _blocks(page: str) -> list[tuple[str, str, str | None]]:
    """(language, code, nearest preceding storage yaml) for each fenced block."""
    out: list[tuple[str, str, str | None]] = []
    last_yaml: str | None = None
    for match in _BLOCK.finditer((ROOT / page).read_text(encoding="utf-8")):
        lang, code = match.group(1), match.group(2)
        if "--8<--" in code:
            continue  # included from a file that its own test runs
        out.append((lang, code, last_yaml))
        if lang == "yaml" and "storage:" in code:
            last_yaml = code
    return out


def _cases(kind: str, pages: list[str]) -> list[tuple[str, int, str, str | None]]:
    cases = []
    for page in pages:
        for i, (lang, code, yaml_before) in enumerate(_blocks(page)):
            if lang == kind and (kind == "python" or "storage:" in code):
                cases.append((page, i, code, yaml_before))
    return cases


PYTHON = _cases("python", EXECUTED_PAGES)
CLOUD_PAGES = {
    "docs/drivers/s3.md": "s3",
    "docs/drivers/r2.md": "r2",
    "docs/drivers/gcs.md": "gcs",
    "docs/drivers/azure.md": "azure",
    "packages/lexigram-storage-s3/README.md": "s3",
    "packages/lexigram-storage-gcs/README.md": "gcs",
    "packages/lexigram-storage-azure/README.md": "azure",
}
CLOUD = _cases("python", list(CLOUD_PAGES))
YAML = _cases("yaml", YAML_PAGES)


def test_there_are_samples() -> None:
    assert len(PYTHON) >= 8 and len(YAML) >= 5 and len(CLOUD) >= 3


@pytest.mark.parametrize(
    ("page", "index", "code", "yaml_before"), PYTHON, ids=[f"{p}#{i}" for p, i, _, _ in PYTHON]
)
def test_python_sample_runs(
    page: str, index: int, code: str, yaml_before: str | None, tmp_path: Path
) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(code, encoding="utf-8")
    if yaml_before is not None:
        (tmp_path / "app.yaml").write_text(yaml_before, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(sample), f"{page}#{index}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env_for(code, yaml_before),
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{page} block {index} failed:\n{code}\n{done.stderr[-3000:]}"


@pytest.mark.parametrize(
    ("page", "index", "code", "yaml_before"), YAML, ids=[f"{p}#{i}" for p, i, _, _ in YAML]
)
def test_yaml_sample_loads(
    page: str, index: int, code: str, yaml_before: str | None, tmp_path: Path
) -> None:
    (tmp_path / "app.yaml").write_text(code, encoding="utf-8")
    script = (
        "import sys; from lexigram.storage import StorageConfig; "
        "StorageConfig.from_yaml(sys.argv[1])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "app.yaml")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env_for(code),
    )
    assert done.returncode == 0, (
        f"{page} block {index} does not load:\n{code}\n{done.stderr[-2000:]}"
    )


def _redirect(
    page: str, yaml_text: str | None, servers: dict[str, Any], driver: str | None = None
) -> str:
    """The page's storage config with its backend pointed at the local emulator."""
    driver = driver or CLOUD_PAGES[page]
    assert yaml_text is not None, f"{page}: a python sample needs a storage yaml before it"
    doc = yaml.safe_load(yaml_text)
    storage = doc["storage"]
    targets = [storage.get("drivers", {}).get(driver)] + [
        b.get(driver) for b in storage.get("backends", []) if b.get("driver") == driver
    ]
    settings = next(t for t in targets if t is not None)
    if driver in ("s3", "r2"):
        bucket = f"docs-{uuid.uuid4().hex[:12]}"
        create = urllib.request.Request(f"{servers['moto'].url}/{bucket}", method="PUT")
        with urllib.request.urlopen(create, timeout=10) as reply:  # 127.0.0.1 only
            assert reply.status == 200
        settings.update(
            bucket=bucket,
            endpoint_url=servers["moto"].url,
            access_key="AKIADOCSEXAMPLEKEY01",
            secret_key="docs-example-secret-key-0123456789",
        )
        if driver == "s3":
            settings["addressing_style"] = "path"
    elif driver == "gcs":
        settings.update(
            bucket=servers["new_gcs_bucket"](),
            endpoint_url=servers["fake_gcs"].url,
            credentials_path=servers["service_account"]["path"],
        )
    else:
        container = f"docs-{uuid.uuid4().hex[:12]}"
        connection = (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={servers['azurite'].url}/devstoreaccount1;"
        )
        create_container(connection, container)
        for name in ("account_name", "account_key", "sas_token", "endpoint_url"):
            settings.pop(name, None)
        settings.update(connection_string=connection, container=container)
    return yaml.safe_dump(doc)


@pytest.mark.parametrize(
    ("page", "index", "code", "yaml_before"), CLOUD, ids=[f"{p}#{i}" for p, i, _, _ in CLOUD]
)
def test_cloud_python_sample_runs_against_the_emulator(
    page: str,
    index: int,
    code: str,
    yaml_before: str | None,
    tmp_path: Path,
    moto_server: Any,
    fake_gcs: Any,
    new_gcs_bucket: Any,
    service_account: dict[str, Any],
    azurite: Any,
) -> None:
    servers = {
        "moto": moto_server,
        "fake_gcs": fake_gcs,
        "new_gcs_bucket": new_gcs_bucket,
        "service_account": service_account,
        "azurite": azurite,
    }
    (tmp_path / "app.yaml").write_text(_redirect(page, yaml_before, servers), encoding="utf-8")
    sample = tmp_path / "sample.py"
    sample.write_text(code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(sample), f"{page}#{index}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env_for(code),
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{page} block {index} failed:\n{code}\n{done.stderr[-3000:]}"


RECIPE = "docs/recipes/local-dev-s3-prod.md"


def _recipe() -> tuple[dict[str, str], str]:
    """The recipe's config files (by the path in their first line) and its program."""
    files, programs = {}, []
    for lang, code, _ in _blocks(RECIPE):
        if lang == "yaml":
            files[code.split(":", 1)[0].removeprefix("# ")] = code
        elif lang == "python":
            programs.append(code)
    assert sorted(files) == ["config/dev.yaml", "config/prod.yaml"] and len(programs) == 1
    return files, programs[0]


def _run_recipe(folder: Path, program: str, env: dict[str, str]) -> str:
    (folder / "app.py").write_text(program, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "app.py"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_recipe_dev_runs_on_local_disk(tmp_path: Path) -> None:
    files, program = _recipe()
    (tmp_path / "config").mkdir()
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    out = _run_recipe(tmp_path, program, {"APP_ENV": "dev"})
    assert out.startswith("dev: local stored 14 bytes,"), out
    assert "image/jpeg, metadata {'user': '42'}" in out
    assert "link: http://127.0.0.1:8000/files/avatars/42.jpg?…" in out
    assert (tmp_path / "storage" / "data" / "avatars" / "42.jpg").read_bytes().endswith(b"jpeg")


def test_recipe_prod_runs_the_same_code_on_s3(tmp_path: Path, moto_server: Any) -> None:
    files, program = _recipe()
    prod = yaml.safe_load(_redirect(RECIPE, files["config/prod.yaml"], {"moto": moto_server}, "s3"))
    s3 = prod["storage"]["drivers"]["s3"]
    # credentials that pass the production checks (moto accepts any)
    s3.update(
        access_key=f"AKIA{uuid.uuid4().hex[:16].upper()}", secret_key=secrets.token_urlsafe(32)
    )
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "prod.yaml").write_text(yaml.safe_dump(prod), encoding="utf-8")
    out = _run_recipe(tmp_path, program, {"APP_ENV": "prod"})
    assert out.startswith("prod: s3 stored 14 bytes,"), out
    assert "image/jpeg, metadata {'user': '42'}" in out
    assert f"link: {moto_server.url}/{s3['bucket']}/avatars/42.jpg?…" in out
    assert not (tmp_path / "storage").exists()
