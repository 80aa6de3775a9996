#!/usr/bin/env python3
"""A slow HTTP reader for the zero-window test: GET /, then SLOW_S seconds of 1 KiB reads every
0.1 s (the kernel's receive queue fills, its window closes to zero and reopens by a little at a
time), then reads as fast as it can. The kernel's default receive buffer: a small SO_RCVBUF
closes the window as well but, set before connect, leaves no window scaling and a window clamp
that makes the fast part crawl (64 MiB at ~3 KiB per round trip).
Prints "STATUS BODY_BYTES SHA256" of the body (Content-Length bytes).

Usage: slow_reader.py HOST PORT SLOW_S
"""
import hashlib
import socket
import sys
import time


def main():
    host, port, slow_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect((host, port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("connection closed inside the headers")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length is None:
        sys.exit("no Content-Length")
    digest = hashlib.sha256(body[:length])
    got = min(len(body), length)
    end_slow = time.monotonic() + slow_s
    while got < length and time.monotonic() < end_slow:
        time.sleep(0.1)
        chunk = s.recv(min(1024, length - got))
        if not chunk:
            break
        digest.update(chunk)
        got += len(chunk)
    while got < length:
        chunk = s.recv(min(1 << 20, length - got))
        if not chunk:
            break
        digest.update(chunk)
        got += len(chunk)
    s.close()
    print(status, got, digest.hexdigest())


if __name__ == "__main__":
    main()
