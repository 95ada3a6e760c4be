"""A small fprintd stand-in that serves the documented D-Bus API on a given bus (spec §2.7).

Used to test :mod:`hardware.fingerprint.fprintd` against a real ``dbus-daemon``
without libfprint.  It models one reader (``/net/reactivated/Fprint/Device/0``),
per-user enrolled fingers, claiming, and scans that tests present with
:meth:`FakeFprintd.present` (an identity string; ``"smudge"`` asks for a retry).
Enrolment needs ``enroll_stages`` scans of the same identity.
"""

from __future__ import annotations

import collections
import threading
from typing import Any

from jeepney import DBusAddress, HeaderFields, Message, MessageType, new_error, new_method_return, new_signal  # type: ignore[import-untyped]
from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]
from jeepney.io.blocking import DBusConnection, open_dbus_connection  # type: ignore[import-untyped]

__all__ = ["DEVICE_PATH", "FakeFprintd"]

DEVICE_PATH = "/net/reactivated/Fprint/Device/0"
_ERROR = "net.reactivated.Fprint.Error."


class FakeFprintd:
    """fprintd on ``address``, served from a background thread (``start``/``stop``)."""

    def __init__(
        self,
        address: str,
        *,
        enrolled: dict[str, dict[str, str]] | None = None,
        enroll_stages: int = 2,
        has_device: bool = True,
    ) -> None:
        self.address = address
        self.enrolled: dict[str, dict[str, str]] = {user: dict(f) for user, f in (enrolled or {}).items()}
        self.enroll_stages = enroll_stages
        self.has_device = has_device
        self.disconnected = False
        self._scans: collections.deque[str] = collections.deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: DBusConnection | None = None
        self._claimed: tuple[str, str] | None = None  # (sender, user)
        self._active: dict[str, Any] | None = None
        self.calls: list[str] = []

    def start(self) -> None:
        """Connect, own the fprintd bus name and serve."""
        self._conn = open_dbus_connection(self.address)
        self._conn.send_and_get_reply(message_bus.RequestName("net.reactivated.Fprint"), timeout=5)
        self._thread = threading.Thread(target=self._serve, name="fake-fprintd", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and disconnect."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def present(self, identity: str) -> None:
        """The resident puts a finger (``identity``) on the sensor once."""
        with self._lock:
            self._scans.append(identity)

    # ----------------------------------------------------------------- serving

    def _serve(self) -> None:
        conn = self._conn
        assert conn is not None
        while not self._stop.is_set():
            try:
                message = conn.receive(timeout=0.02)
            except TimeoutError:
                message = None
            except OSError:
                return
            if message is not None and message.header.message_type == MessageType.method_call:
                self._dispatch(conn, message)
            self._process_scan(conn)

    def _dispatch(self, conn: DBusConnection, message: Message) -> None:
        member = str(message.header.fields[HeaderFields.member])
        sender = str(message.header.fields.get(HeaderFields.sender, ""))
        self.calls.append(member)
        handler = getattr(self, f"_m_{member}", None)
        if handler is None:
            conn.send(new_error(message, "org.freedesktop.DBus.Error.UnknownMethod"))
            return
        outcome = handler(sender, *message.body)
        if isinstance(outcome, str):
            conn.send(new_error(message, _ERROR + outcome, "s", (outcome,)))
        elif outcome is None:
            conn.send(new_method_return(message))
        else:
            signature, body = outcome
            conn.send(new_method_return(message, signature, body))

    def _emit(self, conn: DBusConnection, signal: str, result: str, done: bool) -> None:
        device = DBusAddress(DEVICE_PATH, interface="net.reactivated.Fprint.Device")
        conn.send(new_signal(device, signal, "sb", (result, done)))

    def _process_scan(self, conn: DBusConnection) -> None:
        with self._lock:
            active = self._active
            if active is None or active.get("done") or not (self._scans or self.disconnected):
                return
            identity = None if self.disconnected else self._scans.popleft()
        kind, signal = active["kind"], "VerifyStatus" if active["kind"] == "verify" else "EnrollStatus"
        if identity is None:
            active["done"] = True
            self._emit(conn, signal, f"{kind}-disconnected", True)
        elif identity == "smudge":
            self._emit(conn, signal, f"{kind}-retry-scan", False)
        elif kind == "verify":
            fingers = self.enrolled.get(active["user"], {})
            wanted = fingers.values() if active["finger"] == "any" else [fingers.get(active["finger"])]
            active["done"] = True
            self._emit(conn, signal, "verify-match" if identity in wanted else "verify-no-match", True)
        else:
            active.setdefault("identity", identity)
            if identity != active["identity"]:
                active["done"] = True
                self._emit(conn, signal, "enroll-failed", True)
                return
            active["stages"] = active.get("stages", 0) + 1
            if active["stages"] < self.enroll_stages:
                self._emit(conn, signal, "enroll-stage-passed", False)
                return
            active["done"] = True
            self.enrolled.setdefault(active["user"], {})[active["finger"]] = identity
            self._emit(conn, signal, "enroll-completed", True)

    # ---------------------------------------------------------------- methods

    def _m_GetDefaultDevice(self, sender: str) -> tuple[str, tuple[str]] | str:
        return ("o", (DEVICE_PATH,)) if self.has_device else "NoSuchDevice"

    def _m_GetDevices(self, sender: str) -> tuple[str, tuple[list[str]]]:
        return ("ao", ([DEVICE_PATH] if self.has_device else [],))

    def _m_Claim(self, sender: str, user: str) -> str | None:
        if self._claimed is not None and self._claimed[0] != sender:
            return "AlreadyInUse"
        self._claimed = (sender, user)
        return None

    def _m_Release(self, sender: str) -> str | None:
        if self._claimed is None or self._claimed[0] != sender:
            return "ClaimDevice"
        self._claimed = None
        return None

    def _user(self, sender: str) -> str | None:
        return self._claimed[1] if self._claimed is not None and self._claimed[0] == sender else None

    def _m_ListEnrolledFingers(self, sender: str, user: str) -> tuple[str, tuple[list[str]]] | str:
        fingers = sorted(self.enrolled.get(user, {}))
        return ("as", (fingers,)) if fingers else "NoEnrolledPrints"

    def _m_DeleteEnrolledFinger(self, sender: str, finger: str) -> str | None:
        user = self._user(sender)
        if user is None:
            return "ClaimDevice"
        if finger not in self.enrolled.get(user, {}):
            return "NoEnrolledPrints"
        del self.enrolled[user][finger]
        return None

    def _m_DeleteEnrolledFingers2(self, sender: str) -> str | None:
        user = self._user(sender)
        if user is None:
            return "ClaimDevice"
        self.enrolled.pop(user, None)
        return None

    def _start(self, sender: str, kind: str, finger: str) -> str | None:
        user = self._user(sender)
        if user is None:
            return "ClaimDevice"
        if kind == "verify" and not self.enrolled.get(user):
            return "NoEnrolledPrints"
        with self._lock:
            self._active = {"kind": kind, "finger": finger, "user": user}
        return None

    def _m_VerifyStart(self, sender: str, finger: str) -> str | None:
        return self._start(sender, "verify", finger)

    def _m_EnrollStart(self, sender: str, finger: str) -> str | None:
        return self._start(sender, "enroll", finger)

    def _m_VerifyStop(self, sender: str) -> None:
        with self._lock:
            self._active = None

    def _m_EnrollStop(self, sender: str) -> None:
        with self._lock:
            self._active = None
