"""deployments/prefect.yaml checked offline: entrypoints load, parameters validate, schedules parse."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from dataprep.config import PipelineConfig, load_config
from dataprep.errors import DataprepError
from flows.deploy_steps import ROOT_VARIABLE, enter_project_root, project_root
from flows.deployment_specs import PREFECT_YAML, load_specs
from flows.edit_dataset import OPERATIONS
from flows.stages import STAGES

PROJECT = Path(__file__).resolve().parents[1]


def test_every_deployment_in_prefect_yaml_loads_validates_and_parses() -> None:
    specs = {spec.name: spec for spec in load_specs()}
    assert specs["nightly"].schedules[0].cron == "0 2 * * *"
    assert set(STAGES) <= set(specs), "every stage has a deployment of its own"
    edits = {operation.flow for operation in OPERATIONS.values()}
    assert edits <= {spec.flow.fn.__name__ for spec in specs.values()}, "every edit has a deployment of its own"
    for spec in specs.values():
        assert spec.work_pool == "dataprep" and spec.concurrency is not None and spec.concurrency.limit == 1
        if spec.flow.fn.__name__ in edits:  # an edit of one dataset: its folder, no pipeline configuration
            assert not spec.schedules, f"{spec.name}: an edit runs on demand only"
            continue
        config = load_config(PipelineConfig, PROJECT / spec.parameters["config_path"],
                             spec.parameters.get("overrides", []))
        stages = spec.parameters.get("stages")
        if stages:  # a stage's own deployment: its configuration has that section
            for stage in stages:
                assert getattr(config, stage) is not None, f"{spec.name}: {stage} is not configured"
        else:  # every configured stage: at least one is
            assert any(getattr(config, stage) is not None for stage in STAGES), f"{spec.name}: no stage"
    pull = yaml.safe_load(PREFECT_YAML.read_text())["pull"]
    assert pull == [{"flows.deploy_steps.enter_project_root": {}}]


def test_a_deployment_prefect_would_skip_is_named(tmp_path: Path) -> None:
    document = yaml.safe_load(PREFECT_YAML.read_text())
    document["deployments"][0]["parameters"]["config_path"] = ["not", "a", "path"]
    (tmp_path / "prefect.yaml").write_text(yaml.safe_dump(document))
    with pytest.raises(DataprepError, match=r"(?s)deployment 'nightly': .*config_path: Input should be a valid string"):
        load_specs(tmp_path / "prefect.yaml", PROJECT)
    document["deployments"][0]["entrypoint"] = "flows/nightly.py:nightly"
    (tmp_path / "prefect.yaml").write_text(yaml.safe_dump(document))
    with pytest.raises(DataprepError, match=r"deployment 'nightly': entrypoint flows/nightly.py:nightly: no file"):
        load_specs(tmp_path / "prefect.yaml", PROJECT)


def test_serve_builds_the_same_deployments_as_prefect_yaml() -> None:
    spec = importlib.util.spec_from_file_location("serve", PROJECT / "deployments/serve.py")
    assert spec is not None and spec.loader is not None
    serve = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(serve)
    built = {d.name: d for d in serve.runner_deployments()}
    for expected in load_specs():
        deployment = built[expected.name]
        assert deployment.parameters == expected.parameters and deployment.concurrency_limit == 1
        assert [s.schedule for s in deployment.schedules] == list(expected.schedules)
    lines = (PROJECT / "deployments/serve.py").read_text().splitlines()
    assert not [line for line in lines if line.startswith("from __future__")]


def test_run_start_fails_naming_dataprep_root_when_it_is_wrong(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataprepError, match=rf"{ROOT_VARIABLE}='{tmp_path}' is not the dataprep project folder"):
        project_root({ROOT_VARIABLE: str(tmp_path)})
    assert project_root({}) == PROJECT  # unset: the folder dataprep is installed from
    monkeypatch.setenv(ROOT_VARIABLE, str(PROJECT))
    monkeypatch.chdir(tmp_path)
    assert enter_project_root() == {"directory": str(PROJECT)}
    assert Path.cwd() == PROJECT
