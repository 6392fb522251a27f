"""The pull step every deployment in deployments/prefect.yaml runs first, on the worker, at run start.

Prefect's own `set_working_directory: {directory: "{{ $DATAPREP_ROOT }}"}` stored the literal template when
the variable was unset at deploy time, and every run then died on a FileNotFoundError that never named it.
This step reads the worker's environment when the run starts, falls back to the folder this package was
installed from (`pip install -e .`), and fails naming DATAPREP_ROOT when neither is the project.
"""

from __future__ import annotations

import os
from pathlib import Path

from dataprep.errors import DataprepError

ROOT_VARIABLE = "DATAPREP_ROOT"
INSTALLED_ROOT = Path(__file__).resolve().parents[1]


def is_project_root(folder: Path) -> bool:
    """The flows and the configurations they name are relative to it, so both must be there."""
    return (folder / "flows" / "convert_all.py").is_file() and (folder / "configs").is_dir()


def project_root(environ: dict[str, str] | None = None) -> Path:
    value = (os.environ if environ is None else environ).get(ROOT_VARIABLE)
    if value:
        root = Path(value).expanduser()
        if not is_project_root(root):
            raise DataprepError(f"{ROOT_VARIABLE}={value!r} is not the dataprep project folder (no "
                                "flows/convert_all.py and configs/ in it); set it where the worker starts")
        return root
    if not is_project_root(INSTALLED_ROOT):
        raise DataprepError(f"{ROOT_VARIABLE} is not set and dataprep is not installed from its project folder "
                            f"(pip install -e .); export {ROOT_VARIABLE}=/path/to/dataprep before "
                            "`prefect worker start`")
    return INSTALLED_ROOT


def enter_project_root() -> dict[str, str]:
    """Change into the project folder, so entrypoints and relative configuration paths resolve there."""
    root = project_root()
    os.chdir(root)
    return {"directory": str(root)}
