"""The one-process alternative to a work pool and a worker: serve every deployment of prefect.yaml.

    python deployments/serve.py            # from the project root, with PREFECT_API_URL set; Ctrl-C stops

Same schedules, parameters and limits as `prefect deploy` creates from deployments/prefect.yaml. No
`from __future__ import annotations` here: `serve` pickles flows by value, and string annotations of pydantic
parameters cannot be rebuilt in the process that runs them.
"""

import sys
from pathlib import Path
from typing import Any

from prefect import serve

from flows.deploy_steps import enter_project_root
from flows.deployment_specs import load_specs


def runner_deployments() -> list[Any]:
    return [spec.flow.to_deployment(name=spec.name, schedules=list(spec.schedules), parameters=spec.parameters,
                                    concurrency_limit=spec.concurrency, description=spec.description)
            for spec in load_specs()]


def main() -> int:
    enter_project_root()  # relative configuration paths resolve there, as for the worker
    serve(*runner_deployments())
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
