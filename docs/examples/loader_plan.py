"""Size a training job's DataLoader from one `loader` block, on this machine (no GPU: no batch size).

    python docs/examples/loader_plan.py
"""

from dataprep.config import LoaderSpec
from dataprep.memory import plan_loader, read_gpus

spec = LoaderSpec.model_validate({"batch_size": "auto", "num_workers": "cpu*0.9", "model_params": 25_000_000,
                                  "activation_mb_per_sample": 12.0})   # or load_config(LoaderSpec, Path("loader.yaml"))
settings = plan_loader(spec, read_gpus())
print(settings.dataloader_kwargs())   # DataLoader(dataset, **settings.dataloader_kwargs())
print(settings.reasoning)
