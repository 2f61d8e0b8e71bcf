"""Process variable (PV) names of the served machine, shared by server and client.

Per plane (``H`` horizontal, ``V`` vertical), with the default prefix ``AWAKE:SIM:``:

    AWAKE:SIM:H:CORR:SP     corrector setpoints, 10 doubles, rad (write; refused beyond the limit)
    AWAKE:SIM:H:CORR:RB     corrector readbacks, 10 doubles, rad
    AWAKE:SIM:H:CORR:LIMIT  corrector limit, rad: |setpoint| <= limit
    AWAKE:SIM:H:BPM         BPM readings, 10 doubles, m (updated after every accepted setpoint)

and for the machine:

    AWAKE:SIM:BEAM:STATUS   1 = beam on, 0 = beam lost (it hit the vacuum chamber)
    AWAKE:SIM:TASK:ID       evaluation task whose optics is served (the model of the machine)
    AWAKE:SIM:STEPS         accepted setpoints so far (machine steps)
    AWAKE:SIM:QUAD:SCALES   current quadrupole scale factors (they move with drift)

A real line has other names (e.g. one PV per device); only this module would change.
"""

from __future__ import annotations

DEFAULT_PREFIX = "AWAKE:SIM:"
PLANE_CODES = {"horizontal": "H", "vertical": "V"}
BEAM_ON, BEAM_LOST = 1, 0


def plane_pvs(prefix: str, plane: str) -> dict[str, str]:
    """Names of one plane's PVs: setpoint, readback, limit, bpm."""
    if plane not in PLANE_CODES:
        raise ValueError(f"unknown plane {plane!r}; use one of {tuple(PLANE_CODES)}.")
    base = f"{prefix}{PLANE_CODES[plane]}:"
    return {"setpoint": base + "CORR:SP", "readback": base + "CORR:RB", "limit": base + "CORR:LIMIT",
            "bpm": base + "BPM"}


def machine_pvs(prefix: str) -> dict[str, str]:
    """Names of the machine-wide PVs: beam, task, steps, scales."""
    return {"beam": prefix + "BEAM:STATUS", "task": prefix + "TASK:ID", "steps": prefix + "STEPS",
            "scales": prefix + "QUAD:SCALES"}


def all_pvs(prefix: str, planes=tuple(PLANE_CODES)) -> list[str]:
    """Every PV name served for ``planes``, in the order the server prints them."""
    names = [name for plane in planes for name in plane_pvs(prefix, plane).values()]
    return names + list(machine_pvs(prefix).values())
