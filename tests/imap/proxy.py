"""TCP proxies between the importer and Dovecot: the network failing in the middle of a folder,
and a server that behaves like NetEase's."""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.servers import free_port


class _Proxy:
    """Listens on 127.0.0.1:<port>; each client gets its own connection to the server."""

    def __init__(self, server_port: int) -> None:
        self.server_port = server_port
        self.port = free_port()
        self._lock = threading.Lock()
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
            self._serve(client, socket.create_connection(("127.0.0.1", self.server_port)))

    def _serve(self, client: socket.socket, server: socket.socket) -> None:
        raise NotImplementedError

    @staticmethod
    def _hang_up(*ends: socket.socket) -> None:
        for end in ends:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()


class CuttingProxy(_Proxy):
    """The first `cuts` connections are closed once the server has sent them `cut_after` bytes;
    later ones pass everything."""

    def __init__(self, server_port: int, *, cut_after: int, cuts: int = 1) -> None:
        self.cut_after = cut_after
        self.cuts_left = cuts
        self.connections = 0
        self.cut = 0
        super().__init__(server_port)

    def _serve(self, client: socket.socket, server: socket.socket) -> None:
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
        self._hang_up(source, target)


class UnsafeLoginProxy(_Proxy):
    """Plays NetEase (163/126/yeah.net): SELECT or EXAMINE before an ID command is refused with
    "Unsafe Login", as those servers do."""

    REFUSAL = b"NO SELECT Unsafe Login. Please contact kefu@188.com for help"

    def __init__(self, server_port: int) -> None:
        self.refused = 0
        super().__init__(server_port)

    def _serve(self, client: socket.socket, server: socket.socket) -> None:
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
                        with self._lock:
                            self.refused += 1
                        client.sendall(tag + b" " + self.REFUSAL + b"\r\n")
                        continue
                    server.sendall(line + b"\r\n")
        except OSError:
            pass
        self._hang_up(client, server)

    def _replies(self, server: socket.socket, client: socket.socket) -> None:
        try:
            while data := server.recv(65536):
                client.sendall(data)
        except OSError:
            pass
