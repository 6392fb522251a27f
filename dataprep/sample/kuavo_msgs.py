"""The kuavo_msgs message definitions as Leju ships them, and the typestore that writes them faithfully.

ROS1 embeds the .msg text verbatim in every bag and checks it with an md5 that counts constants as
constants. rosbags' parser reads Kuavo's lowercase constants as fields, so the typestore here registers them
explicitly: the bags written with it carry the real text and md5, exactly as a Kuavo robot records them.
"""

from __future__ import annotations

import re

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

# The .msg texts as shipped in LejuRobotics' kuavo_msgs (the revision whose generated code carries md5
# lejuClawState 71c0eb8f..., jointData 2e01436c..., lejuClawCommand 57c40e80..., jointCmd 9ed16f87...),
# trailing spaces and comments included: ROS1 embeds them verbatim in every bag.
KUAVO_MSG_DEFINITIONS: dict[str, str] = {
    "kuavo_msgs/endEffectorData": (
        "string[] name  \nfloat64[] position\nfloat64[] velocity  \nfloat64[] effort\n\n"
    ),
    "kuavo_msgs/jointData": (
        "float64[] joint_q  \nfloat64[] joint_v  \nfloat64[] joint_vd    \nfloat64[] joint_torque  \n"
    ),
    "kuavo_msgs/imuData": (
        "geometry_msgs/Vector3 gyro    #陀螺仪数据\n"
        "geometry_msgs/Vector3 acc     #加速计数据\n"
        "geometry_msgs/Vector3 free_acc    #无重力加速度数据\n"
        "geometry_msgs/Quaternion quat    #四元数数据\n"
    ),
    "kuavo_msgs/sensorsData": (
        "std_msgs/Header header\ntime sensor_time\nkuavo_msgs/jointData joint_data\n"
        "kuavo_msgs/imuData imu_data\nkuavo_msgs/endEffectorData end_effector_data\n"
    ),
    "kuavo_msgs/lejuClawState": (
        "std_msgs/Header header\n\n"
        "int8 kError = -1                \nint8 kUnknown = 0              \nint8 kMoving = 1              \n"
        "int8 kReached = 2            \nint8 kGrabbed = 3         \n\n"
        "int8[] state # 0:; left; 1: right\nkuavo_msgs/endEffectorData data"
    ),
    "kuavo_msgs/lejuClawCommand": (
        "# kuavo_msgs/endEffectorData:\n# string[] name  \n# float64[] position\n# float64[] velocity  \n"
        "# float64[] effort\n# \n# ** For the Topic Notes **\n# \n# name     : 'left_claw' , 'right_claw'\n"
        "# position : 0 ~ 100, the percentage of the claw's opening angle\n"
        "#            0: closed, 100: open   \n"
        "# velocity : 0 ~ 100, if size is 0, will use default `50.0`.\n"
        "# effort   : torque/current, better 1A ~ 2A, if size is 0, will use default `1.0`.\n# \n"
        "# ** Example **\n# data:\n#   - name: ['left_claw', 'right_claw']\n#     position: [20.0, 20.0]\n"
        "#     velocity: [50.0, 50.0]\n#     effort: [1.0, 1.0]\n\n"
        "std_msgs/Header header\nkuavo_msgs/endEffectorData data"
    ),
    "kuavo_msgs/jointCmd": (
        "std_msgs/Header header\nfloat64[] joint_q  \nfloat64[] joint_v  \nfloat64[] tau  \n"
        "float64[] tau_max\nfloat64[] tau_ratio  \nfloat64[] joint_kp  \nfloat64[] joint_kd\n"
        "int32[] control_modes  \n"
    ),
}
# Noetic texts of the standard dependencies, needed to assemble the embedded definitions like genmsg does.
_STD_DEFINITIONS: dict[str, str] = {
    "std_msgs/Header": (
        "# Standard metadata for higher-level stamped data types.\n"
        "# This is generally used to communicate timestamped data \n# in a particular coordinate frame.\n# \n"
        "# sequence ID: consecutively increasing ID \nuint32 seq\n"
        "#Two-integer timestamp that is expressed as:\n"
        "# * stamp.sec: seconds (stamp_secs) since epoch (in Python the variable is called 'secs')\n"
        "# * stamp.nsec: nanoseconds since stamp_secs (in Python the variable is called 'nsecs')\n"
        "# time-handling sugar is provided by the client library\ntime stamp\n"
        "#Frame this data is associated with\nstring frame_id\n"
    ),
    "geometry_msgs/Vector3": (
        "# This represents a vector in free space. \n"
        "# It is only meant to represent a direction. Therefore, it does not\n"
        "# make sense to apply a translation to it (e.g., when applying a \n"
        "# generic rigid transformation to a Vector3, tf2 will only apply the\n"
        "# rotation). If you want your data to be translatable too, use the\n"
        "# geometry_msgs/Point message instead.\n\nfloat64 x\nfloat64 y\nfloat64 z"
    ),
    "geometry_msgs/Quaternion": (
        "# This represents an orientation in free space in quaternion form.\n\n"
        "float64 x\nfloat64 y\nfloat64 z\nfloat64 w\n"
    ),
}
_CONSTANT_LINE = re.compile(r"^\s*(\w+)\s+(\w+)\s*=\s*(-?\d+)\s*(#.*)?$")  # integer constants only


def split_constants(text: str) -> tuple[str, list[tuple[str, str, int]]]:
    """Split a .msg text into its field lines and its constants (name, type, value)."""
    lines, constants = [], []
    for line in text.splitlines():
        if match := _CONSTANT_LINE.match(line):
            constants.append((match[2], match[1], int(match[3])))
        else:
            lines.append(line)
    return "\n".join(lines) + "\n", constants


def kuavo_typestore(*, constants: bool = True) -> Typestore:
    """Noetic typestore plus kuavo_msgs, constants registered as ROS does so the md5s are the real ones.

    `constants=False` gives the typestore a reader needs: the wire format is the same, only hashes differ.
    """
    store = get_typestore(Stores.ROS1_NOETIC)
    for name, text in KUAVO_MSG_DEFINITIONS.items():
        fields_text, consts = split_constants(text)
        types = get_types_from_msg(fields_text, name)
        # rosbags types constants and fields as two lists of unions mypy cannot match element-wise
        store.register({key: (consts if constants else [], fields)  # type: ignore[misc]
                        for key, (_, fields) in types.items()})
    return store


def full_text(name: str) -> str:
    """The message_definition ROS1 stores in a bag: genmsg's compute_full_text, dependencies depth-first."""
    texts = {**_STD_DEFINITIONS, **KUAVO_MSG_DEFINITIONS}
    order: list[str] = []

    def visit(msg: str) -> None:
        for line in texts[msg].splitlines():
            words = line.split("#", 1)[0].split()
            dep = words[0].split("[", 1)[0] if len(words) == 2 else ""
            dep = "std_msgs/Header" if dep == "Header" else dep
            if "/" in dep and dep not in order:
                order.append(dep)
                visit(dep)

    visit(name)
    sep = "=" * 80 + "\n"
    return "".join([texts[name] + "\n", *(f"{sep}MSG: {dep}\n{texts[dep]}\n" for dep in order)])[:-1]
