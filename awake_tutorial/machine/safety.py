"""Saving and restoring a machine's correctors: nothing a session changes is lost.

A save file (JSON, written atomically) holds the corrector settings a session found
before its first write, with the prefix, plane, setpoint PV and the writer's process id:

    {"prefix": "AWAKE:SIM:", "plane": "horizontal", "pv": "AWAKE:SIM:H:CORR:SP",
     "kicks": [10 floats, rad], "pid": 1234, "saved_at": "2026-11-27T12:00:00Z"}

It exists exactly while a session may have changed the machine: a clean end restores the
correctors and deletes it. A file left behind by a killed process is put back by the
next session on the same prefix and plane (:func:`recover`) or by
``awake-tutorial restore FILE`` (:func:`restore_file`). JSON floats round-trip exactly,
so the restored kicks are the saved ones bit for bit.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path

import numpy as np

from awake_tutorial.atomic import write_json_atomic  # the project's one atomic writer
from awake_tutorial.machine.channels import Channels, MachineError
from awake_tutorial.machine.pvs import plane_pvs

log = logging.getLogger(__name__)


def default_save_file(prefix: str, plane: str) -> Path:
    """``runs/machine_backup_<prefix>_<plane>.json`` (characters unsafe in names -> _)."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", prefix).strip("_")
    return Path("runs") / f"machine_backup_{name}_{plane}.json"


def save(path, prefix: str, plane: str, pv: str, kicks: np.ndarray) -> Path:
    """Write the save file (creating its folder), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {"prefix": prefix, "plane": plane, "pv": pv,
                             "kicks": [float(k) for k in kicks], "pid": os.getpid(),
                             "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    return path


def read(path) -> dict:
    """The contents of a save file, checked."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"save file {path} not found; nothing to restore.")
    data = json.loads(path.read_text())
    missing = {"prefix", "plane", "pv", "kicks"} - set(data)
    if missing or len(data["kicks"]) != 10:
        raise ValueError(f"{path} is not a corrector save file (missing {sorted(missing)} or not 10 kicks).")
    return data


def discard(path) -> None:
    """Delete the save file (after a successful restore)."""
    Path(path).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(path, machine) -> bool:
    """At the start of a session: if a killed session left ``path``, put its kicks back.

    ``machine`` is a connected EpicsMachine on the same prefix and plane. Returns True if
    something was restored. A file whose writer still runs belongs to a live session:
    that is an error (two sessions must not steer one machine).
    """
    path = Path(path)
    if not path.exists():
        return False
    data = read(path)
    pid = int(data.get("pid", -1))
    if pid != os.getpid() and _alive(pid):
        raise RuntimeError(f"{path} belongs to a running session (process {pid}) steering {data['prefix']}; "
                           "end that session first, or pass another save_file.")
    if (data["prefix"], data["plane"]) != (machine.prefix, machine.plane):
        raise ValueError(f"{path} saved {data['prefix']} {data['plane']}, not {machine.prefix} {machine.plane}.")
    machine.channels.write("setpoint", np.array(data["kicks"], dtype=np.float64))
    log.warning("restored the correctors a previous session saved in %s (it did not end cleanly)", path)
    print(f"restored the correctors saved in {path} by a session that did not end cleanly")
    discard(path)
    return True


def restore_file(path, timeout: float = 5.0) -> np.ndarray:
    """Put the kicks of a save file back on its machine, check the readbacks, delete the file.

    Returns the restored kicks (10,) rad.
    """
    data = read(path)
    names = plane_pvs(data["prefix"], data["plane"])
    channels = Channels({"setpoint": names["setpoint"], "readback": names["readback"]}, data["prefix"], timeout)
    try:
        kicks = np.array(data["kicks"], dtype=np.float64)
        channels.write("setpoint", kicks)
        readback = channels.read("readback").astype(np.float64)
        if not np.array_equal(readback, kicks):
            raise MachineError(f"after restoring, {names['readback']} reads {readback.tolist()}, "
                               f"not the saved {kicks.tolist()}; {path} is kept.")
    finally:
        channels.close()
    discard(path)
    return kicks
