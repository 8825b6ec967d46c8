"""The local communication scheme of a measurement point (R-4.6.7): how its concentrator reaches the meter.

Master data says it: the metering point's ``local_scheme``, one of
:data:`emms_messages.masterdata.LOCAL_SCHEMES` (``plc`` narrowband carrier, ``hplc`` broadband carrier, ``rf``
micro-power wireless, ``rs485``, ``mbus``, ``ac-sampling``). When it does not (or names something outside that
list), the point's 1376.1 port (AFN04 F10) gives it by convention:

* port 1 — the terminal's AC sampling → ``ac-sampling``;
* ports 2 … 30 — the RS-485 ports → ``rs485`` (an M-Bus converter on one of them must be said in master data);
* port 31 — the local carrier / wireless module → ``plc``: narrowband carrier is the module a concentrator
  has unless master data says ``hplc`` or ``rf``;
* no port — ``ac-sampling`` for an AC-sampling meter protocol, else not known (``None``).

Pure: no I/O; :mod:`emms_collector.repository.points` applies it to every point it writes.
"""

from __future__ import annotations

from emms_messages.masterdata import LOCAL_SCHEMES, LocalScheme

AC_SAMPLING_PORT = 1
RS485_PORTS = range(2, 31)
CARRIER_PORT = 31


def derived_scheme(port: object, protocol: object = None) -> str | None:
    """The scheme the port stands for by convention (None when it says nothing)."""
    number = port if isinstance(port, int) and not isinstance(port, bool) else None
    if isinstance(port, str) and port.strip().isdigit():
        number = int(port)
    if number == AC_SAMPLING_PORT:
        return LocalScheme.AC_SAMPLING.value
    if number in RS485_PORTS:
        return LocalScheme.RS485.value
    if number == CARRIER_PORT:
        return LocalScheme.PLC.value
    if number is None and protocol == "ac-sampling":
        return LocalScheme.AC_SAMPLING.value
    return None


def scheme_of(declared: object, port: object, protocol: object = None) -> str | None:
    """The point's scheme: what master data ``declared`` when it is one of the vocabulary, else derived."""
    if isinstance(declared, str) and declared.strip().lower() in LOCAL_SCHEMES:
        return declared.strip().lower()
    return derived_scheme(port, protocol)
