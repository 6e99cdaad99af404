"""A TCP proxy between the importer and Dovecot that cuts a connection mid-response: the
network failing in the middle of a folder."""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.servers import free_port


class CuttingProxy:
    """Forwards 127.0.0.1:<port> to the server. The first `cuts` connections are closed once the
    server has sent them `cut_after` bytes; later ones pass everything."""

    def __init__(self, server_port: int, *, cut_after: int, cuts: int = 1) -> None:
        self.server_port = server_port
        self.cut_after = cut_after
        self.cuts_left = cuts
        self.connections = 0
        self.cut = 0
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.server_port))
            with self._lock:
                self.connections += 1
                limit = self.cut_after if self.cuts_left > 0 else None
                if limit is not None:
                    self.cuts_left -= 1
            threading.Thread(target=self._pump, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, limit), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while data := source.recv(65536):
                if limit is not None and sent + len(data) >= limit:
                    target.sendall(data[: max(0, limit - sent)])
                    with self._lock:
                        self.cut += 1
                    break
                target.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()


class UnsafeLoginProxy:
    """Plays NetEase (163/126/yeah.net): SELECT or EXAMINE before an ID command is refused with
    "Unsafe Login", as those servers do."""

    REFUSAL = b"NO SELECT Unsafe Login. Please contact kefu@188.com for help"

    def __init__(self, server_port: int) -> None:
        self.server_port = server_port
        self.refused = 0
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.server_port))
            threading.Thread(target=self._commands, args=(client, server), daemon=True).start()
            threading.Thread(target=self._replies, args=(server, client), daemon=True).start()

    def _commands(self, client: socket.socket, server: socket.socket) -> None:
        identified = False
        pending = b""
        try:
            while data := client.recv(65536):
                pending += data
                while b"\r\n" in pending:
                    line, pending = pending.split(b"\r\n", 1)
                    tag, _, rest = line.partition(b" ")
                    command = rest.split(b" ", 1)[0].upper()
                    if command == b"ID":
                        identified = True
                    if command in (b"SELECT", b"EXAMINE") and not identified:
                        self.refused += 1
                        client.sendall(tag + b" " + self.REFUSAL + b"\r\n")
                        continue
                    server.sendall(line + b"\r\n")
        except OSError:
            pass
        for end in (client, server):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def _replies(self, server: socket.socket, client: socket.socket) -> None:
        try:
            while data := server.recv(65536):
                client.sendall(data)
        except OSError:
            pass
