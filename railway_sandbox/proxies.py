"""The sandbox's TCP proxies: one local port per proxy, relayed to the database server.

Railway gives each database service's TCP proxy a public host and port of its own. The sandbox's
databases all live on one local server, so without relays every proxy would be that server's
own address, and "the URL must be the TCP proxy Railway reports" could not tell a client's
database from any other database on the server (the portal's own test database included). Each
proxy therefore listens on a port of its own and forwards to the server, as Railway's does to
the service.

A relay forwards bytes and nothing else: it does not read the database name or user a client
sends, so a URL that names the proxy's port but another database on the same local server
reaches it (on Railway the proxy leads to the service's own server, which holds no other
client's database). Tests of the trust boundary say which case they stand for.
"""

from __future__ import annotations

import contextlib
import socket
import threading

_CHUNK = 256 * 1024


class TcpRelay:
    """Listens on ``127.0.0.1:port`` (0: any free port) and forwards each connection."""

    def __init__(self, port: int, target: tuple[str, int], host: str = "127.0.0.1") -> None:
        self.target = target
        self._listener = socket.create_server((host, port))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, name=f"tcp-proxy-{self.port}", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=10)
            upstream.settimeout(None)
        except OSError:
            # The database server is down: the client sees its connection closed, as through
            # Railway's proxy when the service is not running.
            client.close()
            return
        with self._lock:
            if self._closed:
                client.close()
                upstream.close()
                return
            self._open |= {client, upstream}
        done = threading.Event()
        threading.Thread(target=self._pipe, args=(upstream, client, done), daemon=True).start()
        self._pipe(client, upstream, done)

    def _pipe(self, source: socket.socket, sink: socket.socket, done: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(_CHUNK):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
        if done.is_set():  # the other direction ended first: the connection is over
            for sock in (source, sink):
                self._forget(sock)
        done.set()

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        sock.close()

    def close(self) -> None:
        """Stop listening and cut every connection through this proxy."""
        with self._lock:
            self._closed = True
            sockets, self._open = list(self._open), set()
        # Closing alone would not wake the thread blocked in accept(), and Linux keeps the
        # port listening until it returns: shutting the listener down does both.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class ProxyRelays:
    """The running relays of one sandbox, by TCP proxy id."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._relays: dict[str, TcpRelay] = {}
        self._lock = threading.Lock()

    def open(self, proxy_id: str, port: int, target: tuple[str, int]) -> int:
        """Run the proxy's relay, on ``port`` if it is free (a restart), else on a new one.

        Returns the port it listens on; an already running relay keeps its own."""
        with self._lock:
            running = self._relays.get(proxy_id)
            if running is not None:
                return running.port
            try:
                relay = TcpRelay(port, target, self.host)
            except OSError:
                relay = TcpRelay(0, target, self.host)
            self._relays[proxy_id] = relay
            return relay.port

    def close(self, proxy_id: str) -> None:
        with self._lock:
            relay = self._relays.pop(proxy_id, None)
        if relay is not None:
            relay.close()

    def close_all(self) -> None:
        with self._lock:
            relays, self._relays = list(self._relays.values()), {}
        for relay in relays:
            relay.close()

    def __contains__(self, proxy_id: object) -> bool:
        return proxy_id in self._relays
