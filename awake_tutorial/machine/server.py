"""An EPICS Channel Access server (caproto) serving the simulated AWAKE line.

    python -m awake_tutorial.machine.server --task-id 0        # or: awake-tutorial serve-machine

It prints its PV names (see :mod:`awake_tutorial.machine.pvs`) and serves until Ctrl-C.
Any Channel Access client can talk to it (``caproto-get``, pyepics, a control-room panel).

Network: it listens on loopback (127.0.0.1) unless ``EPICS_CAS_INTF_ADDR_LIST`` says
otherwise, and sends its beacons to loopback unless ``EPICS_CAS_BEACON_ADDR_LIST`` is set.
``EPICS_CA_SERVER_PORT`` picks the port (default 5064), so several servers (tests,
several learners) can run on one computer without colliding.

A setpoint beyond the corrector limit is refused: the put fails (a put with completion
gets the error ECA_PUTFAIL), nothing changes, and the setpoint PV goes into a MAJOR alarm
(status WRITE, as caproto marks a failed write) until the next accepted setpoint.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time

from caproto import AlarmSeverity, AlarmStatus
from caproto.server import PVGroup, pvproperty, run

from awake_tutorial.machine.line import DEFAULT_LIMIT, PLANES, LimitError, SimulatedLine
from awake_tutorial.machine.pvs import BEAM_LOST, BEAM_ON, DEFAULT_PREFIX, PLANE_CODES, all_pvs
from awake_tutorial.physics.tasks import get_evaluation_task

LOOPBACK = "127.0.0.1"
N = 10  # correctors and BPMs per plane


def _plane_properties(plane: str, line: SimulatedLine) -> dict:
    """The four pvproperties of one plane (attribute names carry the plane code)."""
    code = PLANE_CODES[plane]

    async def put_setpoint(group, instance, value):
        await group.apply(plane, instance, value)
        return value

    setpoint = pvproperty(name=f"{code}:CORR:SP", value=[0.0] * N, dtype=float, max_length=N,
                          units="rad", doc=f"{plane} corrector setpoints, rad").putter(put_setpoint)
    return {
        f"{code}_setpoint": setpoint,
        f"{code}_readback": pvproperty(name=f"{code}:CORR:RB", value=[0.0] * N, dtype=float, max_length=N,
                                       read_only=True, units="rad", doc=f"{plane} corrector readbacks, rad"),
        f"{code}_limit": pvproperty(name=f"{code}:CORR:LIMIT", value=line.limit, dtype=float,
                                    read_only=True, units="rad", doc="|setpoint| <= limit, rad"),
        f"{code}_bpm": pvproperty(name=f"{code}:BPM", value=list(line.readings[plane]), dtype=float, max_length=N,
                                  read_only=True, units="m", doc=f"{plane} BPM readings, m"),
    }


def _machine_properties(line: SimulatedLine) -> dict:
    """The machine-wide pvproperties, with the line's values."""
    return {
        "beam": pvproperty(name="BEAM:STATUS", value=BEAM_ON if line.beam_on else BEAM_LOST, dtype=int,
                           read_only=True, doc="1 = beam on, 0 = beam lost"),
        "task": pvproperty(name="TASK:ID", value=line.task.id, dtype=int, read_only=True,
                           doc="served evaluation task"),
        "steps": pvproperty(name="STEPS", value=0, dtype=int, read_only=True, doc="accepted setpoints"),
        "scales": pvproperty(name="QUAD:SCALES", value=list(line.scales), dtype=float, max_length=N,
                             read_only=True, doc="quadrupole scale factors (drift)"),
    }


class LineGroupBase(PVGroup):
    """The logic of a setpoint; the PVs are added per server (:func:`make_group`)."""

    def __init__(self, *args, line: SimulatedLine, planes, **kwargs):
        self.line, self.planes = line, tuple(planes)
        super().__init__(*args, **kwargs)

    def _plane_pv(self, plane: str, what: str):
        return getattr(self, f"{PLANE_CODES[plane]}_{what}")

    async def publish(self) -> None:
        """Write the line's state (readbacks, BPMs, beam, steps, scales) to the PVs."""
        for plane in self.planes:
            await self._plane_pv(plane, "readback").write(list(self.line.kicks[plane]))
            await self._plane_pv(plane, "bpm").write(list(self.line.readings[plane]))
        await self.beam.write(BEAM_ON if self.line.beam_on else BEAM_LOST)
        await self.steps.write(self.line.steps)
        await self.scales.write(list(self.line.scales))

    async def apply(self, plane: str, instance, value) -> None:
        """Accept a setpoint (BPMs updated before the put completes) or refuse it with an alarm."""
        try:
            self.line.set_kicks(plane, value)
        except LimitError as error:
            await instance.alarm.write(status=AlarmStatus.HWLIMIT, severity=AlarmSeverity.MAJOR_ALARM)
            logging.getLogger(__name__).warning("%s: %s", instance.pvname, error)
            raise
        if instance.alarm.severity != AlarmSeverity.NO_ALARM:
            await instance.alarm.write(status=AlarmStatus.NO_ALARM, severity=AlarmSeverity.NO_ALARM)
        await self.publish()


def make_group(line: SimulatedLine, prefix: str = DEFAULT_PREFIX, planes=PLANES) -> LineGroupBase:
    """The PV group serving ``line`` for ``planes`` under ``prefix`` (initial values set)."""
    body = _machine_properties(line)
    for plane in planes:
        body.update(_plane_properties(plane, line))
    group_class = type("AwakeLineGroup", (LineGroupBase,), body)  # PVGroup collects pvproperties
    return group_class(prefix=prefix, line=line, planes=planes)


class QuietExpectedErrors(logging.Filter):
    """Drop two expected caproto error reports: "Failed to send beacon" (no CA repeater
    listens on loopback, so beacons bounce; clients search instead, harmless) and the
    traceback of a refused setpoint (:meth:`LineGroupBase.apply` logs one line instead)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Failed to send beacon"):
            return False
        return not (record.exc_info and isinstance(record.exc_info[1], LimitError))


def loopback_defaults() -> None:
    """Listen and send beacons on loopback unless the EPICS environment says otherwise."""
    if not os.environ.get("EPICS_CAS_BEACON_ADDR_LIST"):
        os.environ["EPICS_CAS_BEACON_ADDR_LIST"] = LOOPBACK
        os.environ["EPICS_CAS_AUTO_BEACON_ADDR_LIST"] = "NO"


def exit_with_parent(poll: float = 0.5) -> None:
    """End this process when its parent ends (a notebook kernel killed without clean-up):
    a background thread polls the parent's pid."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(poll)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def serve(task_id: int = 0, plane: str = "both", prefix: str = DEFAULT_PREFIX, bpm_noise: float = 0.0,
          drift: float = 0.0, seed: int = 0, limit: float = DEFAULT_LIMIT) -> None:
    """Serve the simulated line until interrupted (prints the PV names first)."""
    planes = PLANES if plane == "both" else (plane,)
    if plane != "both" and plane not in PLANES:
        raise ValueError(f"unknown plane {plane!r}; use horizontal, vertical or both.")
    line = SimulatedLine(get_evaluation_task(task_id), bpm_noise, drift, seed, limit)
    group = make_group(line, prefix, planes)
    loopback_defaults()
    interfaces = os.environ.get("EPICS_CAS_INTF_ADDR_LIST", "").split() or [LOOPBACK]
    port = os.environ.get("EPICS_CA_SERVER_PORT", "5064")
    logging.getLogger("caproto").setLevel(logging.WARNING)
    for name in ("caproto.ctx", "caproto.circ"):
        logging.getLogger(name).addFilter(QuietExpectedErrors())
    print(f"serving the simulated AWAKE line, task {task_id}, planes {', '.join(planes)}, "
          f"BPM noise {bpm_noise} mm, drift {drift}/step, limit {limit} rad, seed {seed}", flush=True)
    print(f"listening on {' '.join(interfaces)} port {port}; PVs:", flush=True)
    for name in all_pvs(prefix, planes):
        print(f"  {name}", flush=True)
    run(group.pvdb, interfaces=interfaces)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's options (shared with ``awake-tutorial serve-machine``)."""
    parser.add_argument("--task-id", type=int, required=True, help="evaluation task to serve (0 = nominal)")
    parser.add_argument("--plane", default="both", choices=["horizontal", "vertical", "both"],
                        help="planes to serve (default both)")
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"PV name prefix (default {DEFAULT_PREFIX})")
    parser.add_argument("--bpm-noise", type=float, default=0.0, help="BPM noise std in mm (default 0)")
    parser.add_argument("--drift", type=float, default=0.0,
                        help="random-walk std of each quad scale per accepted setpoint (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise and the drift (default 0)")
    parser.add_argument("--limit", type=float, default=DEFAULT_LIMIT,
                        help=f"corrector limit in rad (default {DEFAULT_LIMIT})")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m awake_tutorial.machine.server", description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--exit-with-parent", action="store_true", help="end when the parent process ends")
    args = parser.parse_args(argv)
    if args.exit_with_parent:
        exit_with_parent()
    try:
        serve(args.task_id, args.plane, args.prefix, args.bpm_noise, args.drift, args.seed, args.limit)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
