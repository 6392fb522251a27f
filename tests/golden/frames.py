"""The fixed frames both writers get: lerobot's own (make_golden.py, Python 3.12) and ours (the tests).

Plain numpy only, so the same module runs in the lerobot venv and in the project's environment.
"""

from __future__ import annotations

import numpy as np

FPS = 10
REPO_ID = "local/golden"
ROBOT_TYPE = "golden_bot"
CAMERA = "observation.images.front"
HEIGHT, WIDTH = 240, 320  # wider than lerobot's 300 px threshold, so its stats downsample (by 2)
STATE_NAMES = ("x", "y", "z")
ACTION_NAMES = ("left", "right")
EPISODES = ((12, "pick the cube"), (9, "place the cube"))  # (frames, task) per episode


def vectors(episode: int, frame: int) -> dict[str, np.ndarray]:
    """State, action and a scalar (shape [1]) gripper value; an outlier in episode 1 checks quantiles."""
    t = frame / FPS
    state = np.array([np.sin(t + episode), np.cos(2 * t), episode + 0.25 * frame], dtype=np.float32)
    action = np.array([t - episode, 1e4 if (episode, frame) == (1, 4) else -t], dtype=np.float32)
    gripper = np.array([(frame % 4) / 4.0], dtype=np.float32)
    return {"observation.state": state, "action": action, "observation.gripper": gripper}


def image(episode: int, frame: int) -> np.ndarray:
    """A smooth moving RGB gradient (uint8 HxWx3): small as PNG and as video."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    r = 128 + 100 * np.sin((xx + 4 * frame) / 23.0)
    g = 128 + 100 * np.cos((yy + 3 * frame) / 17.0 + episode)
    b = 40 + (xx + yy) / 3.0
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)


def lerobot_features(use_videos: bool) -> dict[str, dict]:
    """The `features` argument of lerobot's `LeRobotDataset.create` for these frames."""
    return {
        "observation.state": {"dtype": "float32", "shape": (3,), "names": list(STATE_NAMES)},
        "action": {"dtype": "float32", "shape": (2,), "names": list(ACTION_NAMES)},
        "observation.gripper": {"dtype": "float32", "shape": (1,), "names": None},
        CAMERA: {
            "dtype": "video" if use_videos else "image",
            "shape": (HEIGHT, WIDTH, 3),
            "names": ["height", "width", "channels"],
        },
    }
