"""Channels: TCP server, TCP client and serial port behind one interface (:mod:`emms_fep.channels.base`)."""
